"""The form designer's sections: the headings a form's page groups its fields under.

A form's ``sections`` each name a heading (``label``) and the top-level fields shown under it;
the page shows the sections in order, then the fields no section shows, without a heading. Here a
business admin adds, names, orders and removes the sections; which section a field is shown under
is chosen on the field's own card (``form_design.update_field``), and a section always lists its
fields in the form's order, so moving a field moves it on the page. Sections are addressed by
their position, as fields are.
"""

from __future__ import annotations

from dataclasses import dataclass

from ruamel.yaml import CommentedMap, CommentedSeq

from app.i18n import _, localized
from app.meta import yaml_edit
from app.meta.form_design import dump, parse
from app.meta.yaml_edit import DesignRefused

#: A section's keys in the order they are written.
SECTION_KEYS = ("name", "label", "fields")


@dataclass
class SectionView:
    """What the designer shows of one section."""

    path: str
    name: str
    label_zh: str
    label_en: str
    #: how many fields it shows
    count: int

    @property
    def label(self) -> str:
        """Its heading in the reader's language."""
        return localized({"zh_CN": self.label_zh, "en": self.label_en})


def view_of(document: CommentedMap) -> list[SectionView] | None:
    """The sections of the form's document, in order; None when they are written in a way the
    designer does not edit (not a list of entries with a name and a list of fields)."""
    sections = document.get("sections")
    if sections is None:
        return []
    if not _readable(sections):
        return None
    return [
        SectionView(str(index), str(raw["name"]), *yaml_edit.label_of(raw), len(raw["fields"]))
        for index, raw in enumerate(sections)
    ]


def _readable(sections) -> bool:
    return isinstance(sections, list) and all(
        isinstance(raw, dict) and "name" in raw and isinstance(raw.get("fields"), list)
        for raw in sections
    )


def add_section(text: str, values) -> str:
    """A new, empty section after the others; its fields are chosen on their cards."""
    document = parse(text)
    sections = _sections(document, create=True)
    name = yaml_edit.new_name(values.get("name", ""), yaml_edit.names_in(sections),
                              in_use=_in_use)  # fmt: skip
    raw = CommentedMap(name=name)
    yaml_edit.set_label(raw, "label", values.get("label_zh", ""), values.get("label_en", ""), name)
    raw["fields"] = yaml_edit.flow_seq([])
    sections.append(raw)
    return dump(document, text)


def update_section(text: str, path: str, values) -> str:
    """The name and heading of the section at ``path``."""
    document = parse(text)
    sections = _sections(document)
    index = yaml_edit.at(sections, path, _stale())
    raw = sections[index]
    name = yaml_edit.new_name(values.get("name", ""), yaml_edit.names_in(sections, but=index),
                              in_use=_in_use)  # fmt: skip
    yaml_edit.set_or_drop(raw, "name", name, SECTION_KEYS)
    yaml_edit.set_label(raw, "label", values.get("label_zh", ""), values.get("label_en", ""),
                        name, SECTION_KEYS)  # fmt: skip
    return dump(document, text)


def move_section(text: str, path: str, step: int) -> str:
    document = parse(text)
    sections = _sections(document)
    return yaml_edit.moved(document, sections, yaml_edit.at(sections, path, _stale()), step, text)


def remove_section(text: str, path: str) -> str:
    """Remove the section at ``path``: its fields are then shown after the sections, without a
    heading (none is lost from the page)."""
    document = parse(text)
    sections = _sections(document)
    del sections[yaml_edit.at(sections, path, _stale())]
    if not sections:
        yaml_edit.drop(document, "sections")
    return dump(document, text)


def _sections(document: CommentedMap, create: bool = False) -> CommentedSeq:
    sections = document.get("sections")
    if sections is None and create:
        sections = document["sections"] = CommentedSeq()
    if not _readable(sections):
        raise DesignRefused(_("The sections are written in a way the designer does not edit; "
                              "change them in the YAML."))  # fmt: skip
    return sections


def _in_use(name: str) -> str:
    return _("The form already has a section named %(name)s.", name=name)


def _stale() -> str:
    return _("That section is no longer in the YAML; the designer shows it as it is now.")
