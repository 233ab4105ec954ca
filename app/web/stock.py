"""The one-screen stock view (一屏库存): an item's stock in every location the user may see.

The page polls its figures fragment every few seconds with htmx (``hx-trigger="every 5s"``)
rather than holding a server-sent-events stream open: a poll is one indexed query over the
balances and a short request, which any worker serves, whereas a stream would hold a worker per
open page and need a change feed the embedded SQLite default does not have. A phone that puts
the page in the background stops polling (the trigger's visibility filter).

What the figures mean and how they are read is the kernel's (``queries.item_overview``); who sees
which locations is ``app.meta.access``'s. A location under a blind count of the item stays listed
for its counters, its figures hidden and the reason said (``access.hidden_books``, and the items
the count covers: ``stocktake.counted_blind``). The same is served as JSON to integrators.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from flask import Blueprint, abort, jsonify, render_template
from flask_login import current_user, login_required
from sqlalchemy import select

from app.db import plain_quantity
from app.i18n import _
from app.kernel import audit, queries, stocktake
from app.kernel.items import Item, business_now, business_today
from app.kernel.locations import Location
from app.meta import access
from app.web.session import db_session

bp = Blueprint("stock", __name__)

#: How often the page asks for fresh figures, in seconds.
REFRESH_SECONDS = 5


@dataclasses.dataclass(frozen=True)
class StockView:
    """An item's figures where the user may see them, and the locations of the user's scope a
    blind count of the item hides (``counted_blind``): listed without figures, with the reason,
    so that nobody reads a store being counted as a store out of stock."""

    overview: queries.ItemOverview
    counted_blind: list[Location]


def blind_reason(location: Location) -> str:
    """Why a location's figures are not shown: the words the stock reports say it in."""
    return _(
        "%(locations)s: being counted blind, so its stock figures are left out until the "
        "count is reviewed.",
        locations=location.name,
    )


def _overview(item_id: int) -> StockView:
    """The item's figures over the user's data scope; 404 for an item that does not exist."""
    access.require(current_user, access.STOCK_VIEW)
    session = db_session()
    item = session.get(Item, item_id)
    if item is None:
        abort(404)
    granting = access.granting(current_user, access.STOCK_VIEW)
    scope = access.visible_location_ids(session, current_user, granting)
    hidden = _counted_blind(session, item, scope)
    if hidden:
        everywhere = scope if scope is not None else session.scalars(select(Location.id))
        scope = frozenset(everywhere) - {location.id for location in hidden}
    return StockView(queries.item_overview(session, item, business_today(), scope), hidden)


def _counted_blind(session, item: Item, scope) -> list[Location]:
    """The locations of ``scope`` (None: all) under a blind count of ``item`` whose figures the
    user may not see (the reviewers of counts may), by code."""
    hidden = access.hidden_books(session, current_user)
    if hidden:
        hidden = hidden & stocktake.counted_blind(session, item)
    if scope is not None:
        hidden = hidden & frozenset(scope)
    if not hidden:
        return []
    query = select(Location).where(Location.id.in_(sorted(hidden))).order_by(Location.code)
    return list(session.scalars(query))


def _render(template: str, view: StockView | None):
    return render_template(
        template, overview=view.overview if view else None,
        counted_blind=view.counted_blind if view else [], blind_reason=blind_reason,
        refresh=REFRESH_SECONDS, now_time=business_now().strftime("%H:%M:%S"),
    )  # fmt: skip


@bp.get("/stock/items")
@login_required
def search():
    """Pick an item (search as you type) to see its stock."""
    access.require(current_user, access.STOCK_VIEW)
    return _render("stock/item.html", None)


@bp.get("/stock/items/<int:item_id>")
@login_required
def item_page(item_id: int):
    return _render("stock/item.html", _overview(item_id))


@bp.get("/stock/items/<int:item_id>/figures")
@login_required
def figures(item_id: int):
    """The figures alone: what the page swaps in on every refresh."""
    return _render("stock/_figures.html", _overview(item_id))


@bp.get("/api/v1/stock/items/<int:item_id>")
@login_required
def api(item_id: int):
    """The same figures as JSON; quantities are strings (exact decimals) written as the records
    write them ("17", "2.5", not "17.0000"), dates ISO. A location counted blind is listed with
    ``figures_hidden`` true, its figures null and the ``reason``; the totals leave it out."""
    view = _overview(item_id)
    overview, item = view.overview, view.overview.item

    def row(figures: queries.LocationFigures) -> dict:
        values = {
            name: plain_quantity(value) if isinstance(value, Decimal) else value
            for name, value in dataclasses.asdict(figures).items()
        }
        values = audit.jsonable(values)
        location = {name: values.pop(name) for name in ("code", "name", "type")}
        location_id = values.pop("location_id")
        return {"location": {"id": location_id, **location}, **values}

    def blind(location: Location) -> dict:
        """A location counted blind: listed, its figures hidden (null), the reason given."""
        return {
            "location": {"id": location.id, "code": location.code, "name": location.name,
                         "type": str(location.type)},
            **dict.fromkeys((*queries.FIGURES, "earliest_expiry")),
            "figures_hidden": True,
            "reason": blind_reason(location),
        }  # fmt: skip

    shown = [row(figures) | {"figures_hidden": False} for figures in overview.locations]
    hidden = [blind(location) for location in view.counted_blind]
    return jsonify(
        item={"id": item.id, "code": item.code, "name": item.name,
              "unit_of_measure": item.unit_of_measure,
              "near_expiry_days": item.near_expiry_days},
        today=overview.today.isoformat(),
        near_expiry_until=overview.near_expiry_until.isoformat(),
        locations=sorted(shown + hidden, key=lambda entry: entry["location"]["code"]),
        totals={key: value for key, value in row(overview.totals).items() if key != "location"},
    )  # fmt: skip
