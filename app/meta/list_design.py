"""The form designer's record list: which columns a form's list of records shows, how it is
sorted, how many rows a page holds, which fields its search box looks in and which field names a
record in titles and links.

These are the form's ``list``, ``search`` and ``title_field`` keys, set from ticks and choices
and written into the text being edited like the designer's other changes. Columns and search
fields keep the order they are written in; a newly ticked one goes after them. A list that names
no columns shows the defaults (the record number, then the first five fields), and stays
unwritten while the ticks are the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

from ruamel.yaml import CommentedMap

from app.i18n import _
from app.meta import yaml_edit
from app.meta.checks import RECORD_COLUMNS
from app.meta.form_design import WRITTEN_ORDER, dump, field_names, parse
from app.meta.forms import default_list_columns
from app.meta.yaml_edit import DesignRefused

#: A list's keys in the order they are written.
LIST_KEYS = ("columns", "sort", "page_size")
#: The rows a page may hold.
PAGE_SIZES = (1, 500)


@dataclass
class ListView:
    #: the columns shown, in order: as written, or the defaults when none are
    columns: list[str]
    default: bool
    #: the column sorted by ("" for the newest first) and whether largest first
    sort: str
    descending: bool
    page_size: str
    search: list[str]
    title_field: str
    #: what may be shown or sorted by: the record's own columns, then the form's fields
    offered: list[str]
    #: what may be searched or name a record: the form's fields that are not tables
    fields: list[str]


def view_of(document: CommentedMap) -> ListView:
    listing = yaml_edit.mapping_of(document, "list")
    written = listing.get("columns")
    sort = str(listing.get("sort") or "")
    fields = field_names(document)
    return ListView(
        columns=[str(name) for name in written] if written else default_list_columns(document),
        default=not written, sort=sort.lstrip("-"), descending=sort.startswith("-"),
        page_size=yaml_edit.text_of(listing.get("page_size")),
        search=yaml_edit.names_of(document, "search"),
        title_field=str(document.get("title_field") or ""),
        offered=_offered(document, fields), fields=fields,
    )  # fmt: skip


def update_list(text: str, values) -> str:
    """The list's columns, sort and page size, the search's fields and the title field, from
    the designer's ticks and choices."""
    document = parse(text)
    fields = field_names(document)
    offered = _offered(document, fields)
    listing = document.get("list")
    if not isinstance(listing, CommentedMap):
        listing = CommentedMap()
    yaml_edit.set_or_drop(listing, "columns", _columns(document, listing, values, offered),
                          LIST_KEYS)  # fmt: skip
    yaml_edit.set_or_drop(listing, "sort", _sort(listing.get("sort"), values, offered), LIST_KEYS)
    yaml_edit.set_or_drop(listing, "page_size", _page_size(values), LIST_KEYS)
    yaml_edit.set_or_drop(document, "list", listing or None, WRITTEN_ORDER)
    searched = yaml_edit.ticked(document.get("search"), values.getlist("search"), fields)
    yaml_edit.set_or_drop(document, "search", searched, WRITTEN_ORDER)
    title = values.get("title_field", "").strip()
    if title and title not in fields:
        raise DesignRefused(_("Choose one of the form's fields."), "title_field")
    yaml_edit.set_or_drop(document, "title_field", title or None, WRITTEN_ORDER)
    return dump(document, text)


def _offered(document: CommentedMap, fields: list[str]) -> list[str]:
    own = [name for name in RECORD_COLUMNS if name != "number" or document.get("numbering")]
    return own + fields


def _columns(document: CommentedMap, listing: CommentedMap, values, offered: list[str]):
    chosen = values.getlist("list_columns")
    if not any(name in offered for name in chosen):
        raise DesignRefused(_("A list shows at least one column."), "list_columns")
    written = listing.get("columns")
    if written:
        return yaml_edit.ticked(written, chosen, offered)
    defaults = default_list_columns(document)
    columns = yaml_edit.ticked(defaults, chosen, offered)
    return None if columns == defaults else columns  # the defaults stay unwritten


def _sort(current, values, offered: list[str]):
    column = values.get("list_sort", "").strip()
    if not column:
        return None  # the newest first
    if column not in offered:
        raise DesignRefused(_("Choose one of the columns the list may show."), "list_sort")
    sort = f"-{column}" if values.get("list_descending") else column
    return current if sort == current else sort


def _page_size(values):
    size = values.get("page_size", "").strip()
    if not size:
        return None
    low, high = PAGE_SIZES
    if not size.isdigit() or not low <= int(size) <= high:
        raise DesignRefused(_("A page holds 1 to 500 rows."), "page_size")
    return int(size)
