"""The visual form designer's changes, made to a form's YAML text.

A business admin designs a form by filling in each field's name, type, labels and switches, moving
fields up and down, adding and removing them — never seeing YAML; each change is made to the
text being edited (``yaml_edit``: comments and layout kept), and fields are moved and removed as
the lines they are written on, so the version diff shows the change and nothing else. An
integrator who prefers the text sees what the designer did. The designer owns a fixed set of keys
per field (``DESIGNED_KEYS``: with a formula's expression, what a scan fills, its default, link
filter and checks); anything else a field carries is left as it was, to be edited in the YAML.
A top-level field's card also says which section of the page it is shown under, and the form's
sections (``section_design``) follow a field's rename, move and removal.

Fields are addressed by their position: ``"3"`` is the fourth field of the form, ``"6.2"`` the
third field of the table that is the seventh. A position that no longer exists (the text changed
under the designer) is refused, and the designer redraws from the text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ruamel.yaml import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from app.i18n import _, ngettext
from app.meta import yaml_edit
from app.meta.forms import NUMBER_TYPES
from app.meta.yaml_edit import DesignRefused

#: The keys the designer writes; a field's other keys are the YAML's business.
DESIGNED_KEYS = (
    "name", "type", "label", "help", "formula", "required", "read_only", "hidden", "options",
    "link", "link_filter", "link_scope", "fills", "default", "default_expr", "required_if",
    "visible_if", "min", "max", "max_length", "scale", "pattern", "unique", "indexed", "validate",
)  # fmt: skip
#: What a scan (``udi``) field reads from a GS1 / UDI barcode, each filled into a field beside it.
SCAN_PARTS = ("item", "gtin", "lot", "expiry_date", "serial", "production_date")
#: The field a scan fills each part into by default: the one of this name, or of this type.
SCAN_TARGETS = {"item": ("item", "link"), "gtin": ("gtin", None), "lot": ("lot", "lot"),
                "expiry_date": ("expiry_date", "expiry_date"), "serial": ("serial", "serial"),
                "production_date": ("production_date", None)}  # fmt: skip
#: What a form keeps: master data (cards) or documents.
FORM_KINDS = ("master", "document")
#: What the add form's list of option lists sends for choices written out on the field itself.
WRITTEN_OUT = "-"
#: The switches, written ``true`` when on and left out when off.
SWITCHES = ("required", "read_only", "hidden")
#: The switches under "More": no two records with the same value, quick to search by.
MORE_SWITCHES = ("unique", "indexed")
#: Whole numbers a field may carry, with the smallest and largest each takes.
WHOLE_NUMBERS = {"max_length": (1, 100_000), "scale": (0, 8)}
#: The expressions, written as typed and left out when empty.
EXPRESSIONS = ("link_filter", "default_expr", "required_if", "visible_if")


@dataclass
class DesignedField:
    """What the designer shows of one field."""

    path: str
    name: str
    type: str
    label_zh: str = ""
    label_en: str = ""
    help_zh: str = ""
    help_en: str = ""
    required: bool = False
    read_only: bool = False
    hidden: bool = False
    #: the shared option list a choice field names ("" for none); ``inline_options`` when the
    #: choices are written out in the form itself (edited in the YAML)
    options: str = ""
    inline_options: bool = False
    #: those written-out choices as (value, Chinese, English), when each says no more than that
    choices: list[tuple[str, str, str]] | None = None
    link: str = ""
    #: a formula field's expression; a scan field's part → the field it fills
    formula: str = ""
    fills: dict[str, str] = field(default_factory=dict)
    #: the checks a value must pass: (condition, message in Chinese, in English)
    rules: list[tuple[str, str, str]] = field(default_factory=list)
    #: which linked records may be chosen; what a new record starts with (expressions)
    link_filter: str = ""
    #: the value a new record starts with, as typed (``retail``, ``13``, ``true``)
    default: str = ""
    default_expr: str = ""
    required_if: str = ""
    visible_if: str = ""
    min: str = ""
    max: str = ""
    #: the longest text, the decimal places, a pattern the value must match
    max_length: str = ""
    scale: str = ""
    pattern: str = ""
    unique: bool = False
    indexed: bool = False
    #: "all": a link may name any record, not only those in the user's scope
    link_scope: str = ""
    #: the section of the page a top-level field is shown under ("" for none)
    section: str = ""
    #: keys the designer does not edit, which the field also carries (shown, kept)
    other_keys: list[str] = field(default_factory=list)
    #: a table's own fields
    fields: list[DesignedField] = field(default_factory=list)


def parse(text: str) -> CommentedMap:
    """The form's document, for the designer; refuses a text that is not a form's mapping."""
    document = yaml_edit.parse(text, _("The YAML is not a form: it must be a mapping with fields."))
    if not isinstance(document.get("fields"), CommentedSeq):
        document["fields"] = CommentedSeq()
    return document


def dump(document: CommentedMap, original: str) -> str:
    return yaml_edit.dump(document, original)


#: A form's own keys in the order they are written.
FORM_KEYS = ("name", "label", "description", "kind", "numbering", "location_field", "period_date",
             "title_field", "menu", "fields")  # fmt: skip
#: Every key of a form in the order the shipped forms write them: where a designer puts a key
#: the form did not have yet.
WRITTEN_ORDER = (*FORM_KEYS[:-1], "recurring", "deadline", "fields", "account", "makes", "list",
                 "search", "allocation", "sections")  # fmt: skip


@dataclass
class FormSettings:
    """What the designer shows of the form itself."""

    label_zh: str
    label_en: str
    menu: str
    numbering: str
    description_zh: str = ""
    description_en: str = ""
    #: master data (a card) or a document; "" when not written (a document)
    kind: str = ""
    #: the field holding a record's location, which decides who sees it (its data scope)
    location_field: str = ""
    location_fields: list[str] = field(default_factory=list)
    #: the date field that dates a document for period close ("": the day it was created)
    period_date: str = ""
    period_dates: list[str] = field(default_factory=list)


def settings(text: str) -> FormSettings:
    return _settings(parse(text))


def view(text: str) -> tuple[FormSettings, list[DesignedField]]:
    """What the designer draws — the form's own settings, then its fields — from one reading
    of the text (a form's is the longest: reading it is most of a designer's answer)."""
    return view_of(parse(text))


def view_of(document: CommentedMap) -> tuple[FormSettings, list[DesignedField]]:
    """``view`` of a form's document read already."""
    fields = _outline(document["fields"], "")
    for shown in fields:
        shown.section = section_of(document, shown.name)
    return _settings(document), fields


def _settings(document: CommentedMap) -> FormSettings:
    return FormSettings(
        *yaml_edit.label_of(document), str(document.get("menu") or ""),
        yaml_edit.text_of(document.get("numbering")),
        *yaml_edit.label_of({"label": document.get("description")}),
        kind=str(document.get("kind") or ""),
        location_field=str(document.get("location_field") or ""),
        location_fields=field_names(document, ("link",), "location"),
        period_date=str(document.get("period_date") or ""),
        period_dates=field_names(document, ("date",)),
    )  # fmt: skip


def field_names(document: CommentedMap, types: tuple[str, ...] = (), link: str = "") -> list[str]:
    """The names of the form's top-level fields of ``types`` (all but tables when none), links
    to ``link`` only when given: what a designer's choice of "which field" offers."""
    return [
        str(raw.get("name"))
        for raw in document["fields"]
        if isinstance(raw, dict)
        and (raw.get("type") in types if types else raw.get("type") != "table")
        and (not link or raw.get("link") == link)
    ]


def update_form(text: str, values: dict[str, str], menus: list[str]) -> str:
    """The form's label, the menu it is listed under (none: an entry of its own) and the pattern
    of its record numbers."""
    document = parse(text)
    name = str(document.get("name", ""))
    yaml_edit.set_label(document, "label", values.get("label_zh", ""), values.get("label_en", ""),
                        name, FORM_KEYS)  # fmt: skip
    menu = values.get("menu", "").strip()
    if menu and menu not in menus:
        raise DesignRefused(_("Choose one of the menus the settings declare."), "menu")
    yaml_edit.set_or_drop(document, "menu", menu or None, FORM_KEYS)
    numbering = values.get("numbering", "").strip()
    if numbering and "{seq" not in numbering:
        raise DesignRefused(_("A number pattern needs a running number, such as {seq:05}."),
                            "numbering")  # fmt: skip
    yaml_edit.set_or_drop(document, "numbering", numbering or None, FORM_KEYS)
    if "description_zh" in values:
        yaml_edit.set_label(document, "description", values.get("description_zh", ""),
                            values.get("description_en", ""), None, FORM_KEYS)  # fmt: skip
    if "kind" in values:
        kind = values["kind"].strip()
        if kind == "document" and "kind" not in document:
            kind = ""  # what no kind means: left unwritten
        if kind and kind not in FORM_KINDS:
            raise DesignRefused(_("A form keeps master data or documents."), "kind")
        yaml_edit.set_or_drop(document, "kind", kind or None, FORM_KEYS)
    if "location_field" in values:
        where = values["location_field"].strip()
        if where and where not in field_names(document, ("link",), "location"):
            raise DesignRefused(_("Choose a field that links to a location."), "location_field")
        yaml_edit.set_or_drop(document, "location_field", where or None, FORM_KEYS)
    if "period_date" in values:
        dated_by = values["period_date"].strip()
        if dated_by and dated_by not in field_names(document, ("date",)):
            raise DesignRefused(_("Choose one of the form's date fields."), "period_date")
        yaml_edit.set_or_drop(document, "period_date", dated_by or None, FORM_KEYS)
    return dump(document, text)


def outline(text: str) -> list[DesignedField]:
    """Every field of the form as the designer shows it, tables with their fields."""
    return _outline(parse(text)["fields"], "")


def _outline(fields: CommentedSeq, prefix: str) -> list[DesignedField]:
    shown = []
    for index, raw in enumerate(fields):
        if not isinstance(raw, dict):
            continue
        path = f"{prefix}{index}"
        label, help_ = yaml_edit.label_of(raw), yaml_edit.label_of({"label": raw.get("help")})
        options = raw.get("options")
        shown.append(
            DesignedField(
                path=path,
                name=str(raw.get("name", "")),
                type=str(raw.get("type", "")),
                label_zh=label[0], label_en=label[1], help_zh=help_[0], help_en=help_[1],
                required=raw.get("required") is True,
                read_only=raw.get("read_only") is True,
                hidden=raw.get("hidden") is True,
                options=options if isinstance(options, str) else "",
                inline_options=isinstance(options, list),
                choices=_choices_of(options),
                link=str(raw.get("link") or ""),
                formula=yaml_edit.text_of(raw.get("formula")),
                fills={str(part): str(target) for part, target in (raw.get("fills") or {}).items()},
                link_filter=yaml_edit.text_of(raw.get("link_filter")),
                default=_shown_default(raw.get("default")),
                default_expr=yaml_edit.text_of(raw.get("default_expr")),
                required_if=yaml_edit.text_of(raw.get("required_if")),
                visible_if=yaml_edit.text_of(raw.get("visible_if")),
                min=yaml_edit.text_of(raw.get("min")),
                max=yaml_edit.text_of(raw.get("max")),
                max_length=yaml_edit.text_of(raw.get("max_length")),
                scale=_shown_default(raw.get("scale")),
                pattern=yaml_edit.text_of(raw.get("pattern")),
                unique=raw.get("unique") is True,
                indexed=raw.get("indexed") is True,
                link_scope=str(raw.get("link_scope") or ""),
                rules=_rules_of(raw),
                other_keys=[key for key in raw if key not in DESIGNED_KEYS and key != "fields"],
                fields=_outline(raw["fields"], f"{path}.")
                if isinstance(raw.get("fields"), list)
                else [],
            )
        )  # fmt: skip
    return shown


# --- changes -----------------------------------------------------------------------------------


def update_field(text: str, path: str, values: dict[str, str], held=None) -> str:
    """Set the designed keys of the field at ``path`` from the designer's inputs (strings;
    switches present when on); keys it does not design are kept. ``held(field path)`` says how
    many records hold a value in a field (``contact``, ``lines.item``): a field that records
    hold values in keeps its name, which is where the values are kept."""
    document = parse(text)
    siblings, index = _locate(document, path)
    raw = siblings[index]
    name = values.get("name", "").strip()
    _check_name(name, siblings, index)
    old = str(raw.get("name", ""))
    if held is not None and name != old:
        _refuse_renaming_values(document, path, old, held)
    kind = values.get("type", "").strip() or str(raw.get("type", ""))
    if "." not in path:
        _renamed_in_sections(document, old, name)
    _set_or_drop(raw, "name", name)
    _set_or_drop(raw, "type", kind)
    _set_label(raw, "label", values.get("label_zh", ""), values.get("label_en", ""), name)
    _set_label(raw, "help", values.get("help_zh", ""), values.get("help_en", ""), None)
    for switch in SWITCHES:
        _set_or_drop(raw, switch, True if values.get(switch) else None)
    if not isinstance(raw.get("options"), list):
        _set_or_drop(raw, "options", values.get("options", "").strip() or None)
    elif "choice_value" in values and _choices_of(raw["options"]) is not None:
        _set_choices(raw["options"], values)
    _set_or_drop(raw, "link", values.get("link", "").strip() or None)
    _set_or_drop(raw, "formula", _formula(values) if kind == "formula" else None)
    fills = {part: values.get(f"fill_{part}", "") for part in SCAN_PARTS} if kind == "udi" else {}
    _set_fills(raw, fills, siblings)
    if "default" in values:  # (not drawn for a table or a formula)
        _set_or_drop(raw, "default", _default(raw.get("default"), kind, values["default"]))
    for expression in EXPRESSIONS:
        _set_or_drop(raw, expression, values.get(expression, "").strip() or None)
    for bound in ("min", "max"):
        refusal = _("Enter a number, such as 0 or 0.5.")
        _set_or_drop(raw, bound, yaml_edit.number(values.get(bound, ""), refusal, bound))
    _set_more(raw, values)
    if "rule_expr" in values:  # the designer sends every rule, and an empty row for a new one
        _set_rules(raw, values)
    if "section" in values and "." not in path:
        _place(document, name, values["section"].strip())
    return dump(document, text)


def _shown_default(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _default(current, kind: str, typed: str):
    """The value a new record starts with, typed for the field's ``kind``: a switch's yes or no,
    a number exact (a whole one as written, a fraction as text, never a float), the rest as
    text; ``current`` itself when the input says the same, None when it is empty."""
    typed = typed.strip()
    if not typed:
        return None
    if typed == _shown_default(current):
        return current
    if kind == "boolean":
        if typed not in ("true", "false"):
            raise DesignRefused(_("A yes-or-no field starts as true or false."), "default")
        return typed == "true"
    if kind in NUMBER_TYPES:
        if not yaml_edit.NUMBER.match(typed):
            raise DesignRefused(_("Enter the starting number, such as 13 or 0.5."), "default")
        return int(typed) if "." not in typed else DoubleQuotedScalarString(typed)
    return typed


def add_field(text: str, parent: str, values: dict[str, str]) -> str:
    """Add a field at the end of the form (``parent`` empty) or of the table at ``parent``."""
    document = parse(text)
    if parent:
        siblings, index = _locate(document, parent)
        table = siblings[index]
        if table.get("type") != "table":
            raise DesignRefused(_("Fields can only be added to a table."))
        fields = table.setdefault("fields", CommentedSeq())
    else:
        fields = document["fields"]
    name = values.get("name", "").strip()
    _check_name(name, fields, None)
    kind = values.get("type", "").strip() or "text"
    raw = CommentedMap(name=name, type=kind)
    _set_label(raw, "label", values.get("label_zh", ""), values.get("label_en", ""), name)
    if kind in ("select", "multiselect"):
        raw["options"] = values.get("options", "").strip() or None
        if raw["options"] is None:
            raise DesignRefused(_("Choose the list its choices come from."), "options")
        if raw["options"] == WRITTEN_OUT:  # its own choices, one to start with, edited on its card
            first = yaml_edit.flow(CommentedMap(value="choice_1"))
            first["label"] = yaml_edit.flow_label("选项一", "Choice one")
            raw["options"] = CommentedSeq([first])
    if kind == "link":
        raw["link"] = values.get("link", "").strip() or None
        if raw["link"] is None:
            raise DesignRefused(_("Choose what the field links to."), "link")
    if kind == "formula":
        raw["formula"] = _formula(values)
    if kind == "udi":
        _set_fills(raw, _scan_defaults(fields), fields)
    if kind == "table":
        first = CommentedMap(name="note", type="text")
        first["label"] = yaml_edit.flow_label("备注", "Note")
        raw["fields"] = CommentedSeq([first])
    if values.get("required"):
        raw["required"] = True
    fields.append(raw)
    if not parent and values.get("section", "").strip():
        _place(document, name, values["section"].strip())
    added = dump(document, text)
    after = values.get("after", "")
    names = [str(field.get("name")) for field in fields if isinstance(field, dict)]
    if after not in names[:-2]:  # at the end (or it is there already)
        return added
    last = str(len(fields) - 1)
    moved = _moved_to(added, f"{parent}.{last}" if parent else last, names.index(after) + 1)
    return moved if parent else _sections_in_step(moved)


def move_field(text: str, path: str, step: int) -> str:
    """Move the field at ``path`` ``step`` places up (negative) or down among its siblings; a
    section shows its fields in the form's order, so it follows."""
    _siblings, index = _locate(parse(text), path)
    moved = _moved_to(text, path, index + step)
    return moved if "." in path or moved == text else _sections_in_step(moved)


def _moved_to(text: str, path: str, target: int) -> str:
    """The field at ``path`` moved to place ``target`` among its siblings, as its lines."""
    document = parse(text)
    siblings, index = _locate(document, path)
    if not 0 <= target < len(siblings):
        return text  # already first or last: nothing to do
    spans = _item_spans(text, siblings)
    siblings.insert(target, siblings.pop(index))
    if spans is None:
        return dump(document, text)
    lines = text.splitlines(keepends=True)
    blocks = [lines[start:end] for start, end in spans]
    blocks.insert(target, blocks.pop(index))
    moved = lines[: spans[0][0]] + [line for block in blocks for line in block]
    return _checked(moved + lines[spans[-1][1] :], document, text)


def remove_field(text: str, path: str) -> str:
    """Remove the field at ``path``: records keep their values in it, hidden, until a field of
    its name comes back (the publish refuses one of another type)."""
    document = parse(text)
    siblings, index = _locate(document, path)
    if len(siblings) == 1 and "." in path:
        raise DesignRefused(_("A table keeps at least one field."))
    name = str(siblings[index].get("name", ""))
    spans = _item_spans(text, siblings)
    del siblings[index]
    if spans is None:
        removed = dump(document, text)
    else:
        lines = text.splitlines(keepends=True)
        start, end = spans[index]
        removed = _checked(lines[:start] + lines[end:], document, text)
    return removed if "." in path else _sections_in_step(removed, gone=name)


def _item_spans(text: str, siblings: CommentedSeq) -> list[tuple[int, int]] | None:
    """The lines of each field of a block list, each with the comment lines just above it, as
    (first, end) line numbers; None for a list written in flow style ``[…]``. Moving and removing
    fields moves and removes these lines as they are, so nothing else of the text changes."""
    if siblings.fa.flow_style() or not siblings:
        return None
    lines = text.splitlines()
    starts = []
    for index in range(len(siblings)):
        start = siblings.lc.item(index)[0]
        while start > 0 and lines[start - 1].lstrip().startswith("#"):
            start -= 1
        starts.append(start)
    dash_column = len(lines[siblings.lc.item(0)[0]]) - len(lines[siblings.lc.item(0)[0]].lstrip())
    end = siblings.lc.item(len(siblings) - 1)[0] + 1
    while end < len(lines) and (
        not lines[end].strip() or len(lines[end]) - len(lines[end].lstrip()) > dash_column
    ):
        end += 1
    while end > starts[-1] + 1 and not lines[end - 1].strip():
        end -= 1
    return list(zip(starts, [*starts[1:], end], strict=True))


def _checked(lines: list[str], document: CommentedMap, original: str) -> str:
    """The lines changed by hand if they read as the changed document does, else its dump."""
    text = "".join(lines)
    dumped = dump(document, original)
    return text if yaml_edit.safe_load(text) == yaml_edit.safe_load(dumped) else dumped


def _locate(document: CommentedMap, path: str) -> tuple[CommentedSeq, int]:
    """The list holding the field at ``path`` and its index there."""
    fields, parts = document["fields"], path.split(".")
    try:
        indexes = [int(part) for part in parts]
        for index in indexes[:-1]:
            fields = fields[index]["fields"]
        if not 0 <= indexes[-1] < len(fields) or not isinstance(fields[indexes[-1]], dict):
            raise IndexError(path)
    except (ValueError, IndexError, KeyError, TypeError) as error:
        raise DesignRefused(
            _("That field is no longer where the designer saw it; look again and repeat.")
        ) from error
    return fields, indexes[-1]


def _formula(values) -> str:
    """A formula field's expression, which it cannot do without."""
    formula = values.get("formula", "").strip()
    if not formula:
        raise DesignRefused(_("Write how the field is worked out, e.g. quantity * price."),
                            "formula")  # fmt: skip
    return formula


def _refuse_renaming_values(document: CommentedMap, path: str, old: str, held) -> None:
    """A record keeps a field's value under the field's name: renamed, the field would show
    none of them (they stay stored, hidden, until a field of that name comes back)."""
    table = str(document["fields"][int(path.split(".")[0])].get("name", ""))
    count = held(f"{table}.{old}" if "." in path else old)
    if count:
        said = ngettext(
            "%(num)d record holds a value in %(name)s; under another name it would no longer "
            "show. Change its label instead.",
            "%(num)d records hold values in %(name)s; under another name they would no longer "
            "show. Change its label instead.",
            count, name=old,
        )  # fmt: skip
        raise DesignRefused(said, "name")


def _check_name(name: str, siblings: CommentedSeq, index: int | None) -> None:
    yaml_edit.new_name(
        name, yaml_edit.names_in(siblings, index),
        _("A field name is lower_snake_case: a letter, then letters, digits and _."),
        lambda taken: _("This form already has a field called %(name)s.", name=taken),
    )  # fmt: skip


def _choices_of(options) -> list[tuple[str, str, str]] | None:
    """Written-out choices as (value, Chinese, English); None when they are a shared list's, or
    one says more than a value and a label (the choices are then the YAML's)."""
    if not isinstance(options, list):
        return None
    if any(not isinstance(choice, dict) or set(choice) - {"value", "label"} for choice in options):
        return None
    return [
        (_shown_default(choice.get("value")), *yaml_edit.label_of(choice)) for choice in options
    ]


def _set_choices(options: CommentedSeq, values) -> None:
    """The written-out choices from the designer's rows (``choice_value``, ``choice_zh``,
    ``choice_en``; a row whose value is cleared goes); a choice whose row did not change stays as
    written, a value keeps its type (``1``, ``true``)."""
    rows = zip(values.getlist("choice_value"), values.getlist("choice_zh"),
               values.getlist("choice_en"), strict=True)  # fmt: skip
    wanted = [tuple(part.strip() for part in row) for row in rows if row[0].strip()]
    if not wanted:
        raise DesignRefused(_("A choice field keeps at least one choice."), "options")
    twice = sorted({value for value, *_labels in wanted if [w[0] for w in wanted].count(value) > 1})
    if twice:
        raise DesignRefused(_("Each choice needs a value of its own: %(value)s is there twice.",
                              value=", ".join(twice)), "options")  # fmt: skip
    written = {_shown_default(choice.get("value")): choice for choice in options}
    kept = []
    for value, zh, en in wanted:
        choice = written.get(value)
        if choice is None:
            choice = yaml_edit.flow(CommentedMap(value=value))
        yaml_edit.set_label(choice, "label", zh, en, value)
        kept.append(choice)
    if kept != list(options):
        options[:] = kept


def _rules_of(raw) -> list[tuple[str, str, str]]:
    """A field's checks: (condition, message in Chinese, in English)."""
    return [(expr, zh, en) for expr, _field, zh, en in yaml_edit.checks_of(raw, "validate") or []]


def _set_rules(raw: CommentedMap, values) -> None:
    """The field's checks from the designer's rows (a row whose condition is cleared goes)."""
    unsaid = _("Say what is wrong when the check fails, in Chinese or English.")
    yaml_edit.set_checks(raw, "validate", values, DESIGNED_KEYS, unsaid)


def _set_fills(raw: CommentedMap, chosen: dict[str, str], siblings: CommentedSeq) -> None:
    """A scan field's fills: each part read from the barcode → the field beside it that gets it;
    unchanged fills stay as written."""
    names = {str(other.get("name")) for other in siblings if isinstance(other, dict)}
    wrong = [target for target in chosen.values() if target and target not in names]
    if wrong:
        raise DesignRefused(_("A scan fills fields beside it; there is no %(name)s.",
                              name=wrong[0]), "fills")  # fmt: skip
    fills = {part: target for part, target in chosen.items() if target}
    if dict(raw.get("fills") or {}) != fills:
        _set_or_drop(raw, "fills", yaml_edit.flow(CommentedMap(fills)) if fills else None)


def _scan_defaults(siblings: CommentedSeq) -> dict[str, str]:
    """The fields a new scan field fills: per part, the field of its name or of its type."""
    fields = [other for other in siblings if isinstance(other, dict)]
    found = {}
    for part, (name, kind) in SCAN_TARGETS.items():
        match = next((f for f in fields if f.get("name") == name), None) or next(
            (f for f in fields if kind and f.get("type") == kind
             and (kind != "link" or f.get("link") == "item")), None)  # fmt: skip
        if match is not None:
            found[part] = str(match["name"])
    return found


def _set_label(raw: CommentedMap, key: str, zh: str, en: str, fallback: str | None) -> None:
    yaml_edit.set_label(raw, key, zh, en, fallback, DESIGNED_KEYS)


def _set_or_drop(raw: CommentedMap, key: str, value) -> None:
    """Set ``key`` where ``DESIGNED_KEYS`` puts it (help after the label, not after a table's
    fields), or drop it when ``value`` is None."""
    yaml_edit.set_or_drop(raw, key, value, DESIGNED_KEYS)


def _set_more(raw: CommentedMap, values) -> None:
    """The "More" inputs, each drawn for the types it concerns: a key whose input was not sent
    (a scale on a text) is left as written."""
    if "more" in values:  # the switches are drawn for every field but a table
        for switch in MORE_SWITCHES:
            _set_or_drop(raw, switch, True if values.get(switch) else None)
    for key, (low, high) in WHOLE_NUMBERS.items():
        if key in values:
            _set_or_drop(raw, key, _whole(values[key], key, low, high))
    if "pattern" in values:
        _set_or_drop(raw, "pattern", values["pattern"].strip() or None)
    if "link_scope" in values:
        scope = values["link_scope"]
        _set_or_drop(raw, "link_scope", scope if scope in ("user", "all") else None)


def _whole(value: str, key: str, low: int, high: int) -> int | None:
    value = value.strip()
    if not value:
        return None
    if not value.isdigit() or not low <= int(value) <= high:
        raise DesignRefused(_("Enter a whole number from %(low)s to %(high)s.", low=low,
                              high=high), key)  # fmt: skip
    return int(value)


# --- sections of the page ----------------------------------------------------------------------


def _sections(document: CommentedMap) -> list[CommentedMap]:
    """The form's sections the designer can read (each a mapping with a list of fields)."""
    sections = document.get("sections")
    if not isinstance(sections, list):
        return []
    return [s for s in sections if isinstance(s, dict) and isinstance(s.get("fields"), list)]


def section_of(document: CommentedMap, name: str) -> str:
    """The section the field ``name`` is shown under ("" for none: after the sections)."""
    return next((str(s.get("name")) for s in _sections(document) if name in s["fields"]), "")


def _place(document: CommentedMap, name: str, section: str) -> None:
    """Show the field ``name`` under ``section`` alone ("" for none), among its fields in the
    form's order."""
    if section == section_of(document, name):
        return
    chosen = [s for s in _sections(document) if str(s.get("name")) == section]
    if section and not chosen:
        raise DesignRefused(_("Choose one of the form's sections."), "section")
    _renamed_in_sections(document, name, None)
    if chosen:
        names = chosen[0]["fields"]
        if not names:  # a new section's list, written on one line as it started
            yaml_edit.flow(names)
        names.append(name)
        _in_form_order(document, chosen[0])


def _renamed_in_sections(document: CommentedMap, old: str, new: str | None) -> None:
    """The field ``old`` named ``new`` in every section that shows it (left out for None)."""
    for section in _sections(document):
        names = section["fields"]
        while old in names and old != new:
            at = names.index(old)
            if new is None:
                del names[at]
            else:
                names[at] = new


def _in_form_order(document: CommentedMap, section: CommentedMap) -> bool:
    """Put the section's fields in the form's order; whether that changed anything."""
    order = [str(raw.get("name")) for raw in document["fields"] if isinstance(raw, dict)]
    names = section["fields"]
    ordered = sorted(names, key=lambda name: order.index(name) if name in order else len(order))
    if ordered == list(names):
        return False
    names[:] = ordered
    return True


def _sections_in_step(text: str, gone: str | None = None) -> str:
    """``text`` with each section's fields in the form's order, and without the field ``gone``
    (removed from the form); unchanged when they are."""
    document = parse(text)
    shown = [name for section in _sections(document) for name in section["fields"]]
    if gone in shown:
        _renamed_in_sections(document, gone, None)
    changed = [_in_form_order(document, section) for section in _sections(document)]
    return dump(document, text) if gone in shown or any(changed) else text
