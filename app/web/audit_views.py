"""The audit trail page: filter by user, record, action and dates; page through; export CSV.

Admins and auditors only (``access.require(user, "audit")``). The CSV holds exactly the entries
the same filters show, so what a regulator is handed matches what was on screen.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

from flask import Blueprint, Response, render_template, request
from flask_login import current_user, login_required

from app.db import utcnow
from app.i18n import _
from app.kernel import audit
from app.meta import access
from app.web.session import db_session

bp = Blueprint("audit", __name__)


@bp.app_template_filter("audit_describe")
def _describe_filter(entry) -> str:
    return describe(entry)


PAGE_SIZE = 50
CSV_COLUMNS = (
    "id", "chain", "seq", "at", "user_id", "username", "action", "entity", "entity_id",
    "changes", "reason", "request_id", "client_addr", "hash",
)  # fmt: skip


def _date(name: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(request.args.get(name, "").strip())
    except ValueError:
        return None


def _filters() -> dict:
    """The filters of the request; dates are whole UTC days, the end day included."""
    args = request.args
    since, until = _date("date_from"), _date("date_to")
    return {
        "username": args.get("user", "").strip() or None,
        "entity": args.get("entity", "").strip() or None,
        "entity_id": args.get("entity_id", "").strip() or None,
        "action": args.get("action", "").strip() or None,
        "since": dt.datetime.combine(since, dt.time(), dt.UTC) if since else None,
        "until": dt.datetime.combine(until + dt.timedelta(days=1), dt.time(), dt.UTC)
        if until
        else None,
    }


@bp.get("/audit")
@login_required
def audit_list():
    access.require(current_user, "audit")
    sql = db_session()
    query = audit.search(**_filters())
    total = audit.count(sql, query)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(max(1, request.args.get("page", 1, type=int) or 1), pages)
    entries = sql.scalars(query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)).all()
    args = {key: value for key, value in request.args.items() if key != "page" and value}
    return render_template(
        "audit/list.html", entries=entries, total=total, page=page, pages=pages, args=args,
        describe=describe,
    )  # fmt: skip


@bp.get("/audit/export.csv")
@login_required
def audit_export():
    access.require(current_user, "audit")
    entries = db_session().scalars(audit.search(**_filters())).all()
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        row = []
        for column in CSV_COLUMNS:
            value = getattr(entry, column)
            if column == "changes":
                value = "" if value is None else json.dumps(value, ensure_ascii=False)
            elif column == "at":
                value = value.isoformat()
            row.append("" if value is None else value)
        writer.writerow(row)
    filename = f"audit-{utcnow():%Y%m%d-%H%M%S}.csv"
    return Response(
        "\ufeff" + buffer.getvalue(),  # BOM: Excel opens Chinese text correctly
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


#: The entries whose changes hold a field's ``[before, after]``: every field of an update (a
#: record's, a user's) and of a formula backfill (``None``), and the named fields of a few other
#: actions. Everywhere else a list is the value itself: the lots a recall blocked, the lines a
#: posting moved, a created record's table — never one value becoming the other.
BEFORE_AFTER: dict[str, frozenset[str] | None] = {
    "update": None,
    "backfill": None,
    "transition": frozenset({"state"}),
    "publish": frozenset({"version"}),
    "revoke": frozenset({"revoked_at"}),
}


def describe(entry: audit.AuditEntry) -> str:
    """A short readable form of an entry's changes for the page."""
    if not entry.changes:
        return ""
    parts = []
    for key, value in entry.changes.items():
        if _before_after(entry.action, key, value):
            old, new = _show(value[0]), _show(value[1])
            parts.append(_("%(field)s: %(old)s → %(new)s", field=key, old=old, new=new))
        else:
            parts.append(f"{key}: {_show(value)}")
    return "; ".join(parts)


def _before_after(action: str, key: str, value) -> bool:
    """Whether ``value`` is the ``[before, after]`` of ``key``, as ``action`` records a change."""
    if not isinstance(value, list) or len(value) != 2 or action not in BEFORE_AFTER:
        return False
    fields = BEFORE_AFTER[action]
    return fields is None or key in fields


def _show(value, nested: bool = False) -> str:
    """A value as text; a list's items one after the other, a list within it (a posting's line)
    in brackets so that its items stay together."""
    if value is None or value == []:
        return "—"
    if isinstance(value, list):
        items = ", ".join(_show(item, nested=True) for item in value)
        return f"[{items}]" if nested else items
    return str(value)
