"""The report designer's changes to a report: its columns picked from its source and labelled,
summed or grouped, ordered, hidden and removed; its label, sort order, row limit and totals —
set in a table, not typed.

Each change is made to the text being edited (``yaml_edit``), so the preview (the draft run on
live data), the checks and the version diff work as for a typed change. Parameters, filters,
formulas, highlights, drills, pivots and charts stay the YAML's (the designer names them and
keeps them). Columns are addressed by position (``"2"``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ruamel.yaml import CommentedMap, CommentedSeq

from app.i18n import _
from app.meta import yaml_edit
from app.meta.yaml_edit import DesignRefused

REFERENCE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$")
SORT_KEY = re.compile(r"^-?[a-z][a-z0-9_]*$")
AGGREGATES = ("sum", "count", "count_distinct", "min", "max", "avg")
BUCKETS = ("day", "week", "month", "quarter", "year")
COLUMN_KEYS = ("name", "column", "label", "bucket", "aggregate", "hidden")
#: A report's keys in the order they are written; the designer sets those of ``DESIGNED``.
REPORT_KEYS = ("name", "label", "description", "source", "params", "filters", "columns", "sort",
               "limit", "totals")  # fmt: skip
DESIGNED = ("name", "label", "source", "columns", "sort", "limit", "totals")


@dataclass
class ReportColumn:
    path: str
    name: str
    column: str
    label_zh: str
    label_en: str
    aggregate: str
    bucket: str
    hidden: bool
    other_keys: list[str]


@dataclass
class ReportView:
    source: str
    label_zh: str
    label_en: str
    columns: list[ReportColumn]
    sort: str
    limit: str
    totals: bool
    #: what else the report declares, kept as written (parameters, filters, a chart …)
    other_keys: list[str] = field(default_factory=list)


def parse(text: str) -> CommentedMap:
    document = yaml_edit.parse(text, _("The YAML is not a report: it must map columns:."))
    if not isinstance(document.get("columns"), CommentedSeq):
        document["columns"] = CommentedSeq()
    return document


def view(text: str) -> ReportView:
    document = parse(text)
    columns = [
        ReportColumn(
            path=str(index), name=str(raw.get("name", "")), column=str(raw.get("column") or ""),
            label_zh=yaml_edit.label_of(raw)[0], label_en=yaml_edit.label_of(raw)[1],
            aggregate=str(raw.get("aggregate") or ""), bucket=str(raw.get("bucket") or ""),
            hidden=raw.get("hidden") is True,
            other_keys=[key for key in raw if key not in COLUMN_KEYS],
        )
        for index, raw in enumerate(document["columns"])
        if isinstance(raw, dict)
    ]  # fmt: skip
    return ReportView(
        source=str(document.get("source", "")), label_zh=yaml_edit.label_of(document)[0],
        label_en=yaml_edit.label_of(document)[1], columns=columns,
        sort=", ".join(str(key) for key in document.get("sort") or []),
        limit=str(document.get("limit") or ""), totals=document.get("totals") is True,
        other_keys=[key for key in document if key not in DESIGNED],
    )  # fmt: skip


def update_report(text: str, values: Mapping[str, str]) -> str:
    """The report's label, sort order (column names, ``-`` before one for descending), row
    limit and grand totals."""
    document = parse(text)
    name = str(document.get("name", ""))
    yaml_edit.set_label(document, "label", values.get("label_zh", ""), values.get("label_en", ""),
                        name, REPORT_KEYS)  # fmt: skip
    keys = [key.strip() for key in values.get("sort", "").split(",") if key.strip()]
    if any(not SORT_KEY.match(key) for key in keys):
        raise DesignRefused(_("Sort by column names, separated by commas; a - before one sorts "
                              "it from the largest."), "sort")  # fmt: skip
    if [str(key) for key in document.get("sort") or []] != keys:
        sort = yaml_edit.flow_seq(keys) if keys else None
        yaml_edit.set_or_drop(document, "sort", sort, REPORT_KEYS)
    limit = values.get("limit", "").strip()
    if limit and (not limit.isdigit() or not 1 <= int(limit) <= 100_000):
        raise DesignRefused(_("The row limit is a whole number from 1 to 100000."), "limit")
    yaml_edit.set_or_drop(document, "limit", int(limit) if limit else None, REPORT_KEYS)
    yaml_edit.set_or_drop(document, "totals", True if values.get("totals") else None, REPORT_KEYS)
    return yaml_edit.dump(document, text)


def update_column(text: str, path: str, values: Mapping[str, str]) -> str:
    """A column's name, source column, labels, aggregate, date bucket and hidden switch."""
    document = parse(text)
    columns, index = _locate(document, path)
    raw = columns[index]
    name = _name(values.get("name", ""), columns, index)
    yaml_edit.set_or_drop(raw, "name", name, COLUMN_KEYS)
    if "column" in raw or values.get("column"):  # a computed or counted one may have none
        yaml_edit.set_or_drop(raw, "column", _reference(values.get("column", "")), COLUMN_KEYS)
    yaml_edit.set_label(raw, "label", values.get("label_zh", ""), values.get("label_en", ""),
                        name, COLUMN_KEYS)  # fmt: skip
    aggregate, bucket = values.get("aggregate", ""), values.get("bucket", "")
    yaml_edit.set_or_drop(raw, "aggregate", aggregate if aggregate in AGGREGATES else None,
                          COLUMN_KEYS)  # fmt: skip
    yaml_edit.set_or_drop(raw, "bucket", bucket if bucket in BUCKETS else None, COLUMN_KEYS)
    yaml_edit.set_or_drop(raw, "hidden", True if values.get("hidden") else None, COLUMN_KEYS)
    return yaml_edit.dump(document, text)


def add_column(text: str, values: Mapping[str, str], labels: Mapping[str, tuple[str, str]]) -> str:
    """A column reading ``values["column"]`` at the end; named and labelled after the source
    column (``labels``: reference → Chinese and English label) unless given."""
    document = parse(text)
    columns = document["columns"]
    reference = _reference(values.get("column", ""))
    name = _name(values.get("name", "").strip() or reference.replace(".", "_"), columns, None)
    zh, en = labels.get(reference, ("", ""))
    raw = CommentedMap(name=name, column=reference)
    yaml_edit.set_label(raw, "label", values.get("label_zh", "") or zh,
                        values.get("label_en", "") or en, name)  # fmt: skip
    columns.append(yaml_edit.flow(raw))  # one line per column, as the shipped reports write them
    return yaml_edit.dump(document, text)


def move_column(text: str, path: str, step: int) -> str:
    document = parse(text)
    return yaml_edit.moved(document, *_locate(document, path), step, text)


def remove_column(text: str, path: str) -> str:
    document = parse(text)
    last = _("A report keeps at least one column.")
    return yaml_edit.removed(document, *_locate(document, path), text, last)


def _name(name: str, columns: CommentedSeq, index: int | None) -> str:
    return yaml_edit.new_name(
        name, yaml_edit.names_in(columns, index),
        _("A column name is lower_snake_case: a letter, then letters, digits and _."),
        lambda taken: _("The report already has a column called %(name)s.", name=taken),
    )  # fmt: skip


def _reference(reference: str) -> str:
    reference = reference.strip()
    if not REFERENCE.match(reference):
        raise DesignRefused(_("Choose the source column it shows."), "column")
    return reference


def _locate(document: CommentedMap, path: str) -> tuple[CommentedSeq, int]:
    stale = _("That column is no longer where the designer saw it; look again and repeat.")
    return document["columns"], yaml_edit.at(document["columns"], path, stale)
