"""The form designer's 参照生单: the documents a record of the form makes (a purchase order makes
its receipt, a receipt its invoice), set without YAML.

Each entry of the form's ``makes`` names the form made, its label (the button on the record's
page), the states the record must be in and a condition; then what the new record starts with —
for each field of the form made, an expression over the record (``supplier``, ``id``,
``total - invoiced``) — and, for its lines, the table they are made from and into, which lines
are taken and each line field's expression. The designer draws a box per field of the form made;
a box left empty sets nothing. Whether the expressions read is the preview's checks' business, as
for every expression typed in a designer. Entries are addressed by position (``"0"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from ruamel.yaml import CommentedMap, CommentedSeq

from app.i18n import _
from app.meta import yaml_edit
from app.meta.form_design import WRITTEN_ORDER, dump, parse
from app.meta.yaml_edit import DesignRefused

#: An entry's keys, and its lines', in the order they are written.
MAKE_KEYS = ("form", "label", "states", "when", "values", "lines")
LINES_KEYS = ("from", "to", "when", "values")


@dataclass
class MadeLines:
    source: str
    target: str
    when: str
    values: dict[str, str]


@dataclass
class MakeView:
    path: str
    form: str
    label_zh: str
    label_en: str
    states: list[str]
    when: str
    #: field of the form made → the expression it starts with
    values: dict[str, str]
    lines: MadeLines | None = None
    other_keys: list[str] = field(default_factory=list)


def view_of(document: CommentedMap) -> list[MakeView] | None:
    """The form's ``makes`` entries; None when they are written in a way the designer does not
    edit."""
    makes = document.get("makes")
    if makes is None:
        return []
    if not isinstance(makes, list) or not all(isinstance(raw, dict) for raw in makes):
        return None
    return [_view(str(index), raw) for index, raw in enumerate(makes)]


def _view(path: str, raw: CommentedMap) -> MakeView:
    lines = raw.get("lines") if isinstance(raw.get("lines"), dict) else None
    return MakeView(
        path=path, form=str(raw.get("form", "")), label_zh=yaml_edit.label_of(raw)[0],
        label_en=yaml_edit.label_of(raw)[1],
        states=yaml_edit.names_of(raw, "states"),
        when=yaml_edit.text_of(raw.get("when")), values=_texts(raw.get("values")),
        lines=MadeLines(str(lines.get("from") or ""), str(lines.get("to") or ""),
                        yaml_edit.text_of(lines.get("when")), _texts(lines.get("values")))
        if lines is not None else None,
        other_keys=[key for key in raw if key not in MAKE_KEYS],
    )  # fmt: skip


def _texts(values) -> dict[str, str]:
    if not isinstance(values, dict):
        return {}
    return {str(name): yaml_edit.text_of(text) for name, text in values.items()}


def add_make(text: str, values: Mapping[str, str], fields_of: Mapping[str, list[str]],
             labels: Mapping[str, tuple[str, str]]) -> str:  # fmt: skip
    """A new entry making the form ``values["form"]`` (one of ``fields_of``: form → its
    fields), labelled as given or as that form (``labels``: form → Chinese and English), its
    fields of the same name as this form's filled from them."""
    document = parse(text)
    target = values.get("form", "").strip()
    if target not in fields_of:
        raise DesignRefused(_("Choose the form a record makes."), "form")
    raw = CommentedMap(form=target)
    zh, en = labels.get(target, ("", ""))
    yaml_edit.set_label(raw, "label", values.get("label_zh", "").strip() or zh,
                        values.get("label_en", "").strip() or en, target)  # fmt: skip
    own = {str(f.get("name")) for f in document["fields"] if isinstance(f, dict)}
    shared = [name for name in fields_of[target] if name in own]
    raw["values"] = yaml_edit.flow(CommentedMap((name, name) for name in shared))
    makes = document.get("makes")
    if not isinstance(makes, CommentedSeq):
        makes = CommentedSeq()
    makes.append(raw)
    yaml_edit.set_or_drop(document, "makes", makes, WRITTEN_ORDER)
    return dump(document, text)


def update_make(text: str, path: str, values, states: list[str], tables: Mapping[str, list[str]],
                fields: list[str]) -> str:  # fmt: skip
    """An entry's label, states (ticked among ``states``), condition, the values of the form
    made's ``fields`` and its lines: the table (one of this form's) they come from, the table of
    the form made (``tables``: table → its fields) they go into, which are taken and their
    values."""
    document = parse(text)
    makes = document.get("makes")
    raw = makes[yaml_edit.at(makes if isinstance(makes, list) else [], path, _stale())]
    yaml_edit.set_label(raw, "label", values.get("label_zh", ""), values.get("label_en", ""),
                        str(raw.get("form")), MAKE_KEYS)  # fmt: skip
    chosen = yaml_edit.ticked(raw.get("states"), values.getlist("states"), states)
    yaml_edit.set_or_drop(raw, "states", chosen, MAKE_KEYS)
    yaml_edit.set_or_drop(raw, "when", values.get("when", "").strip() or None, MAKE_KEYS)
    _set_values(raw, "values", values, "value.", fields, MAKE_KEYS)
    _set_lines(raw, values, tables)
    return dump(document, text)


def _set_values(raw: CommentedMap, key: str, values, prefix: str, fields: list[str],
                order: tuple[str, ...]) -> None:  # fmt: skip
    """``raw[key]``: each field's expression typed in its box (``prefix`` + field); the fields
    written keep their place, new ones go after them in the form made's order."""
    current = raw.get(key)
    mapping = current if isinstance(current, CommentedMap) and current else CommentedMap()
    if not mapping:  # written on one line, as the shipped forms write them
        yaml_edit.flow(mapping)
    for name in [str(name) for name in mapping] + [f for f in fields if f not in mapping]:
        if f"{prefix}{name}" not in values:
            continue  # a field the form made does not have now: the checks say so
        typed = values[f"{prefix}{name}"].strip()
        if typed == yaml_edit.text_of(mapping.get(name)):
            continue
        yaml_edit.set_or_drop(mapping, name, typed or None)
    if not mapping:
        raise DesignRefused(_("Say what the new record starts with: at least one field."),
                            f"{prefix}{fields[0] if fields else ''}")  # fmt: skip
    yaml_edit.set_or_drop(raw, key, mapping, order)


def _set_lines(raw: CommentedMap, values, tables: Mapping[str, list[str]]) -> None:
    """The entry's lines, from the inputs: none when no table of the form made is chosen."""
    target = values.get("lines_to", "").strip()
    if not target:
        yaml_edit.set_or_drop(raw, "lines", None, MAKE_KEYS)
        return
    if target not in tables:
        raise DesignRefused(_("Choose a table of the form made."), "lines_to")
    lines = raw.get("lines")
    if not isinstance(lines, CommentedMap):
        lines = CommentedMap()
    source = values.get("lines_from", "").strip()
    yaml_edit.set_or_drop(lines, "from", source or None, LINES_KEYS)
    yaml_edit.set_or_drop(lines, "to", target, LINES_KEYS)
    yaml_edit.set_or_drop(lines, "when", values.get("lines_when", "").strip() or None, LINES_KEYS)
    _set_values(lines, "values", values, "line.", tables[target], LINES_KEYS)
    yaml_edit.set_or_drop(raw, "lines", lines, MAKE_KEYS)


def move_make(text: str, path: str, step: int) -> str:
    document = parse(text)
    makes = document.get("makes")
    return yaml_edit.moved(document, makes, yaml_edit.at(makes, path, _stale()), step, text)


def remove_make(text: str, path: str) -> str:
    document = parse(text)
    makes = document.get("makes")
    del makes[yaml_edit.at(makes if isinstance(makes, list) else [], path, _stale())]
    if not makes:
        yaml_edit.drop(document, "makes")
    return dump(document, text)


def _stale() -> str:
    return _("That document is no longer in the YAML; the designer shows it as it is now.")
