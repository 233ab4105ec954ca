"""The kernel's read models as report sources: typed columns over the kernel's own tables.

Stock sources read the kernel's tables as they are (balances, the ledger, lots, serial units,
open transfer lines); what a report needs of an item, lot or location comes through links that
are joined only when used. ``days_to_expiry`` is date arithmetic done by the database, spelled
for each dialect, counted from the report's business day; ``stock_age`` (库龄) splits the stock
on hand into what is left of each arrival.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import (
    Date,
    FromClause,
    Index,
    Integer,
    Numeric,
    and_,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    type_coerce,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

from app.kernel.audit import AuditEntry
from app.kernel.items import Item, Lot, Unit, business_timezone
from app.kernel.locations import Location
from app.kernel.periods import ClosedPeriod, PeriodBalance
from app.kernel.reservations import sellable
from app.kernel.stock import STATUS_CHANGES, LedgerEntry, StockBalance
from app.kernel.stocktake import CountEntry, Stocktake, StocktakeSnapshot
from app.kernel.transfers import TransferLine, outstanding_of
from app.kernel.users import User
from app.meta.sources import (
    Link,
    Priced,
    Source,
    SourceColumn,
    col,
    current_dialect,
    current_today,
    register_source,
)


class days_between(FunctionElement):  # noqa: N801  (an SQL function, named like one)
    """Whole days from the first date to the second: ``later - earlier`` on both databases."""

    type = Integer()
    inherit_cache = True


@compiles(days_between)
def _days_between_postgresql(element, compiler, **kw):
    earlier, later = list(element.clauses)
    return f"({compiler.process(later, **kw)} - {compiler.process(earlier, **kw)})"


@compiles(days_between, "sqlite")
def _days_between_sqlite(element, compiler, **kw):
    earlier, later = list(element.clauses)
    return (
        f"CAST(julianday({compiler.process(later, **kw)}) - "
        f"julianday({compiler.process(earlier, **kw)}) AS INTEGER)"
    )


def days_to_expiry(expiry: ColumnElement) -> ColumnElement:
    """Days from the report's business day to ``expiry`` (negative once expired)."""
    return days_between(literal(current_today(), Date), expiry)


def business_date(moment: ColumnElement) -> ColumnElement:
    """The date on the shops' wall clock of the instant ``moment``. SQLite knows no time zone
    rules: it shifts by the zone's offset on the report's business day, as date buckets do."""
    zone = business_timezone()
    if current_dialect() == "postgresql":
        return cast(func.timezone(zone.key, moment), Date)
    offset = dt.datetime.combine(current_today(), dt.time(12), zone).utcoffset()
    return func.date(moment, f"{int(offset.total_seconds() // 60):+d} minutes")


def zh_en(zh: str, en: str) -> dict:
    """A label in both languages, as metadata writes one."""
    return {"zh_CN": zh, "en": en}


#: Stock statuses and lot statuses by their glossary names, for reports to show.
STOCK_STATUSES = {
    "awaiting_inspection": zh_en("待验", "Awaiting inspection"),
    "available": zh_en("合格", "Available"),
    "nonconforming": zh_en("不合格", "Nonconforming"),
    "in_transit": zh_en("在途", "In transit"),
}
#: Why stock moved (the ledger's reason codes, ``app.kernel.stock.Reason``), as people say it.
MOVEMENT_REASONS = {
    "opening": zh_en("期初", "Opening stock"),
    "purchase_receipt": zh_en("采购入库", "Purchase receipt"),
    "inspection": zh_en("验收", "Inspection"),
    "sale": zh_en("销售出库", "Sale"),
    "customer_return": zh_en("销售退货", "Customer return"),
    "supplier_return": zh_en("采购退货", "Supplier return"),
    "transfer_out": zh_en("调拨出库", "Transfer out"),
    "transfer_in": zh_en("调拨入库", "Transfer in"),
    "transfer_return": zh_en("调拨退回", "Transfer return"),
    "scrap": zh_en("报损", "Scrap"),
    "count_surplus": zh_en("盘盈", "Count surplus"),
    "count_shortage": zh_en("盘亏", "Count shortage"),
    "adjustment": zh_en("库存调整", "Stock adjustment"),
    "correction": zh_en("更正", "Correction"),
    "recall": zh_en("召回隔离", "Recalled, set apart"),
    "recall_return": zh_en("召回退回", "Recall return"),
    "maintenance": zh_en("养护检查", "Storage check"),
}
#: How a ledger row counts in a receipts-and-issues summary (收发存汇总): by why stock moved and
#: which way. Stock changing status where it is (inspected, set apart) goes out of one status and
#: into another at the same location: a status change, neither received nor issued.
STOCK_FLOWS = {
    "purchased": zh_en("采购入库", "Purchased"),
    "transferred_in": zh_en("调拨入库", "Transferred in"),
    "customer_returned": zh_en("销售退回", "Returned by customers"),
    "count_surplus": zh_en("盘盈", "Count surplus"),
    "other_in": zh_en("其他入库", "Other receipts"),
    "sold": zh_en("销售出库", "Sold"),
    "transferred_out": zh_en("调拨出库", "Transferred out"),
    "returned_to_supplier": zh_en("采购退货", "Returned to suppliers"),
    "scrapped": zh_en("报损", "Scrapped"),
    "count_shortage": zh_en("盘亏", "Count shortage"),
    "other_out": zh_en("其他出库", "Other issues"),
    "status_change": zh_en("状态转换", "Status change"),
}
#: Goods between locations: shipped into transit, received or sent back out of it.
_TRANSFERS = ("transfer_out", "transfer_in", "transfer_return", "recall_return")
_RECEIVED_AS = {
    "purchase_receipt": "purchased",
    "customer_return": "customer_returned",
    "count_surplus": "count_surplus",
    **dict.fromkeys(_TRANSFERS, "transferred_in"),
}
_ISSUED_AS = {
    "sale": "sold",
    "supplier_return": "returned_to_supplier",
    "scrap": "scrapped",
    "count_shortage": "count_shortage",
    **dict.fromkeys(_TRANSFERS, "transferred_out"),
}
STORAGE_CONDITIONS = {
    "normal": zh_en("常温", "Normal"),
    "cold_chain": zh_en("冷链（2–8 ℃）", "Cold chain (2–8 °C)"),
}
TRACKING_MODES = {
    "none": zh_en("不追溯", "None"),
    "lot": zh_en("按批号", "By lot"),
    "serial": zh_en("按序列号", "By serial number"),
}
LOT_STATUSES = {
    "released": zh_en("正常", "Released"),
    "quarantined": zh_en("冻结", "Quarantined"),
    "recalled": zh_en("召回", "Recalled"),
}


def _location_columns() -> dict[str, SourceColumn]:
    return {
        "code": SourceColumn("text", zh_en("地点编码", "Location code"), col("code")),
        "name": SourceColumn("text", zh_en("地点", "Location"), col("name")),
        "type": SourceColumn("text", zh_en("地点类型", "Location type"), col("type")),
        "path": SourceColumn("text", zh_en("层级路径", "Tree path"), col("path")),
    }


def location_link(column: str) -> Link:
    """A link from ``column`` (a location id) to that location's fields."""
    return Link(
        target=lambda: Location.__table__.alias(),
        on=lambda base, target: base.c[column] == target.c.id,
        columns=_location_columns(),
    )


def region_link(column: str) -> Link:
    """From ``column`` (a location id) to its region: the ancestor of type region. The target
    maps every location to its region (a few hundred rows), so the join is a plain hash join."""

    def target():
        member, region = Location.__table__.alias(), Location.__table__.alias()
        return (
            select(member.c.id.label("member_id"), *(region.c[name] for name in REGION_COLUMNS))
            .join_from(
                member,
                region,
                (region.c.type == "region") & member.c.path.startswith(region.c.path),
            )
            .subquery()
        )

    return Link(
        target=target,
        on=lambda base, region: base.c[column] == region.c.member_id,
        columns=_location_columns(),
    )


#: The location columns a region link exposes (those of ``_location_columns``).
REGION_COLUMNS = ("code", "name", "type", "path")


def user_link(column: str) -> Link:
    return Link(
        target=lambda: User.__table__.alias(),
        on=lambda base, target: base.c[column] == target.c.id,
        columns={
            "username": SourceColumn("text", zh_en("用户名", "Username"), col("username")),
            "full_name": SourceColumn("text", zh_en("姓名", "Full name"), col("full_name")),
        },
    )


register_source(
    Source(
        name="audit_trail",
        label=zh_en("审计追踪", "Audit trail"),
        table=lambda: AuditEntry.__table__,
        columns={
            "id": SourceColumn("integer", zh_en("编号", "Entry"), col("id")),
            "at": SourceColumn("datetime", zh_en("时间", "Time"), col("at")),
            "username": SourceColumn("text", zh_en("用户", "User"), col("username")),
            "action": SourceColumn("text", zh_en("操作", "Action"), col("action")),
            "entity": SourceColumn("text", zh_en("对象", "Entity"), col("entity")),
            "entity_id": SourceColumn("text", zh_en("对象编号", "Entity id"), col("entity_id")),
            "reason": SourceColumn("text", zh_en("原因", "Reason"), col("reason")),
            "client_addr": SourceColumn(
                "text", zh_en("来源地址", "Client address"), col("client_addr")
            ),  # fmt: skip
            "request_id": SourceColumn("text", zh_en("请求编号", "Request id"), col("request_id")),
        },
        links={"user": user_link("user_id")},
        permission="audit",
    )
)

register_source(
    Source(
        name="locations",
        label=zh_en("库存地点", "Locations"),
        table=lambda: Location.__table__,
        columns={
            **_location_columns(),
            "id": SourceColumn("integer", zh_en("编号", "Id"), col("id")),
            "address": SourceColumn("text", zh_en("地址", "Address"), col("address")),
            "latitude": SourceColumn("decimal", zh_en("纬度", "Latitude"), col("latitude")),
            "longitude": SourceColumn("decimal", zh_en("经度", "Longitude"), col("longitude")),
            "active": SourceColumn("boolean", zh_en("启用", "Active"), col("active")),
        },
        links={"parent": location_link("parent_id"), "region": region_link("id")},
        location_column="id",
    )
)


# --- stock -------------------------------------------------------------------------------------


def _item_columns() -> dict[str, SourceColumn]:
    return {
        "code": SourceColumn("text", zh_en("商品编码", "Item code"), col("code")),
        "name": SourceColumn("text", zh_en("商品", "Item"), col("name")),
        "specification": SourceColumn(
            "text", zh_en("规格型号", "Specification"), col("specification")
        ),
        "unit_of_measure": SourceColumn("text", zh_en("单位", "UoM"), col("unit_of_measure")),
        "gtin": SourceColumn("text", zh_en("GTIN", "GTIN"), col("gtin")),
        "registration_cert": SourceColumn(
            "text", zh_en("注册证号", "Registration certificate"), col("registration_cert")
        ),
        "device_class": SourceColumn(
            "text", zh_en("管理类别", "Device class"), col("device_class")
        ),
        "manufacturer": SourceColumn(
            "text", zh_en("生产企业", "Manufacturer"), col("manufacturer")
        ),
        "near_expiry_days": SourceColumn(
            "integer", zh_en("近效期天数", "Near-expiry days"), col("near_expiry_days")
        ),
        # how it is kept and traced: stock by storage condition (cold chain) is a GSP view
        "storage_condition": SourceColumn(
            "text", zh_en("储存条件", "Storage condition"), col("storage_condition"),
            options=STORAGE_CONDITIONS,
        ),
        "tracking": SourceColumn(
            "text", zh_en("追溯方式", "Tracking"), col("tracking"), options=TRACKING_MODES
        ),
        "expiry_required": SourceColumn(
            "boolean", zh_en("须有效期", "Expiry required"), col("expiry_required")
        ),
        "whole_units": SourceColumn(
            "boolean", zh_en("按整数计量", "Counted in whole units"), col("whole_units")
        ),
    }  # fmt: skip


def _good(lot) -> ColumnElement:
    """The (outer-joined) lot may be sold today: none, or released and not expired."""
    return or_(
        lot.c.id.is_(None),
        and_(
            lot.c.status == "released",
            or_(lot.c.expiry_date.is_(None), lot.c.expiry_date >= literal(current_today(), Date)),
        ),
    )


def _lot_columns() -> dict[str, SourceColumn]:
    return {
        "lot_number": SourceColumn("text", zh_en("批号", "Lot"), col("lot_number")),
        "expiry_date": SourceColumn("date", zh_en("有效期至", "Expiry date"), col("expiry_date")),
        "production_date": SourceColumn(
            "date", zh_en("生产日期", "Production date"), col("production_date")
        ),
        "status": SourceColumn(
            "text", zh_en("批次状态", "Lot status"), col("status"), options=LOT_STATUSES
        ),
        "days_to_expiry": SourceColumn(
            "integer",
            zh_en("距到期天数", "Days to expiry"),
            lambda table: days_to_expiry(table.c.expiry_date),
        ),
    }


def _link_to(model, column: str, columns: dict[str, SourceColumn]) -> Link:
    return Link(
        target=lambda: model.__table__.alias(),
        on=lambda base, target: base.c[column] == target.c.id,
        columns=columns,
    )


_QTY = Numeric(18, 4, asdecimal=True)


#: Indexes the stock sources rely on, declared here with the queries that use them (migration
#: 0023). A partial index holds only the rows the reports read, so its size follows the stock
#: on the shelves and the costed entries, not the whole history.
#: * the latest costed ledger entry per item and lot: read in index order, never the 10M-row heap;
LAST_COST_INDEX = Index(
    "ix_stock_ledger_last_cost",
    LedgerEntry.__table__.c.item_id,
    LedgerEntry.__table__.c.lot_id,
    LedgerEntry.__table__.c.id,
    postgresql_where=LedgerEntry.__table__.c.unit_cost.isnot(None),
    sqlite_where=LedgerEntry.__table__.c.unit_cost.isnot(None),
)
#: * stock on the shelves per location and item (every stock report filters ``on_hand > 0``): an
#:   index-only scan in (location, item) order feeds the grouping without a sort. It carries the
#:   status and the lot too (migration 0025) for the replenishment plan, which sums the sellable
#:   stock of two million positions, and their usable lots, the same way.
ON_HAND_INDEX = Index(
    "ix_stock_balances_on_hand",
    StockBalance.__table__.c.location_id,
    StockBalance.__table__.c.item_id,
    postgresql_include=["on_hand", "reserved", "status", "lot_id"],
    postgresql_where=StockBalance.__table__.c.on_hand > 0,
    sqlite_where=StockBalance.__table__.c.on_hand > 0,
)


def _last_costs() -> FromClause:
    """The unit cost of the latest costed ledger entry of each item and lot (``lot_key``).

    Grouped by ``lot_id`` itself (``GROUP BY`` puts the NULLs of untracked items in one group), in
    the order of ``ix_stock_ledger_last_cost``, so the database reads the index, not the ledger.

    SQLite would fold ``id IN (latest)`` into the report's join and try each latest id against
    each row (5 s over the demo's 18,000 ledger rows, 1.7 s over its 6,000 balances). There the
    costs are one grouped query instead, which it builds once and looks up by an index of its
    own: a plain column next to ``max(id)`` takes its value from the row of that maximum
    (SQLite's rule for bare columns in an aggregate query with one ``max``)."""
    ledger = LedgerEntry.__table__
    costed = ledger.c.unit_cost.isnot(None)
    if current_dialect() == "sqlite":
        return (
            select(
                ledger.c.item_id,
                func.coalesce(ledger.c.lot_id, 0).label("lot_key"),
                func.max(ledger.c.id).label("id"),
                ledger.c.unit_cost,
            )
            .where(costed)
            .group_by(ledger.c.item_id, ledger.c.lot_id)
            .subquery()
        )
    entry = ledger.alias()
    latest = select(func.max(ledger.c.id)).where(costed).group_by(ledger.c.item_id, ledger.c.lot_id)
    return (
        select(
            entry.c.item_id,
            func.coalesce(entry.c.lot_id, 0).label("lot_key"),
            entry.c.unit_cost,
        )
        .where(entry.c.id.in_(latest))
        .subquery()
    )


def _open_transit() -> FromClause:
    """What is on its way to each location, of each item and lot: open transfer lines summed."""
    lines = TransferLine.__table__
    outstanding = outstanding_of(lines.c)
    lot_key = func.coalesce(lines.c.lot_id, 0)
    return (
        select(
            lines.c.destination_id,
            lines.c.item_id,
            lot_key.label("lot_key"),
            func.sum(outstanding).label("quantity"),
        )
        .group_by(lines.c.destination_id, lines.c.item_id, lot_key)
        .subquery()
    )


def _arrival(ledger: FromClause) -> ColumnElement:
    """A ledger row by which goods arrived where it is: stock in that is not a status change
    (``STATUS_CHANGES``) nor on the road."""
    return and_(
        ledger.c.quantity > 0,
        ledger.c.reason.notin_([reason.value for reason in STATUS_CHANGES]),
        ledger.c.status != "in_transit",
    )


#: What takes stock away to where it is wanted: a sale, or a transfer to another location.
OUTFLOWS = ("sale", "transfer_out")


def _outflows() -> FromClause:
    """When each item last left each location sold or transferred, and when it first arrived
    there: how long its stock has sat there unmoved (滞销)."""
    ledger = LedgerEntry.__table__
    return (
        select(
            ledger.c.location_id,
            ledger.c.item_id,
            func.max(ledger.c.at).filter(ledger.c.reason.in_(OUTFLOWS)).label("last_out"),
            func.min(ledger.c.at).filter(_arrival(ledger)).label("first_in"),
        )
        .group_by(ledger.c.location_id, ledger.c.item_id)
        .subquery()
    )


def _idle_days(outflows: FromClause) -> ColumnElement:
    """Days since the item last left the location; never, since it first arrived there."""
    since = func.coalesce(outflows.c.last_out, outflows.c.first_in)
    return days_between(business_date(since), literal(current_today(), Date))


def _same_item_and_lot(base, target) -> ColumnElement:
    return (target.c.item_id == base.c.item_id) & (target.c.lot_key == base.c.lot_key)


#: Figures a balance takes from other rows, joined set-based (one hash join, not a subquery per
#: balance row): its last unit cost, what is in transit to its location, and when its item last
#: left the location.
BALANCE_FIGURES = {
    "outflow": Link(
        target=_outflows,
        read_once=True,  # every sale and transfer of the ledger grouped
        on=lambda base, target: (
            (target.c.location_id == base.c.location_id) & (target.c.item_id == base.c.item_id)
        ),
        columns={
            "last_out": SourceColumn(
                "datetime", zh_en("最近出库", "Last sold or shipped"), col("last_out")
            ),
            "idle_days": SourceColumn("integer", zh_en("未出库天数", "Days unmoved"), _idle_days),
        },
    ),
    "cost": Link(
        target=_last_costs,
        on=_same_item_and_lot,
        columns={
            "unit_cost": SourceColumn(
                "money",
                zh_en("单位成本", "Unit cost"),
                lambda t: type_coerce(t.c.unit_cost, _QTY),
            )
        },
    ),
    "transit": Link(
        target=_open_transit,
        on=lambda base, target: (
            (target.c.destination_id == base.c.location_id) & _same_item_and_lot(base, target)
        ),
        columns={
            "quantity": SourceColumn(
                "decimal",
                zh_en("在途", "In transit"),
                lambda t: type_coerce(func.coalesce(t.c.quantity, 0), _QTY),
            )
        },
    ),
}


def _position_columns() -> dict[str, SourceColumn]:
    """The ids of where a stock row is: its location, item and lot."""
    return {
        "location_id": SourceColumn(
            "integer", zh_en("地点编号", "Location id"), col("location_id")
        ),
        "item_id": SourceColumn("integer", zh_en("商品编号", "Item id"), col("item_id")),
        "lot_id": SourceColumn("integer", zh_en("批次编号", "Lot id"), col("lot_id")),
    }


def _costed(quantity: str) -> dict[str, SourceColumn]:
    """A stock row's ``unit_cost`` (its item and lot's latest) and ``value`` (its ``quantity``
    column at that cost), read through the ``cost`` link."""
    return {
        "unit_cost": SourceColumn(
            "money",
            zh_en("单位成本", "Unit cost"),
            lambda base, cost: BALANCE_FIGURES["cost"].columns["unit_cost"].expr(cost),
            via="cost",
        ),
        "value": SourceColumn(
            "money",
            zh_en("库存金额", "Stock value"),
            lambda base, cost: type_coerce(base.c[quantity] * cost.c.unit_cost, _QTY),
            via="cost",
        ),
    }


def stock_at(location: ColumnElement, item: ColumnElement, figure: str) -> ColumnElement:
    """The sellable stock (status available) of ``item`` at ``location`` now: its ``on_hand``,
    ``available`` (on hand minus reserved) or ``free`` (what may be picked or promised today, as
    FEFO allocation sees it: available, of released lots not expired on the report's day), 0 when
    there is none — read per row through the balances' (location, item) index, for sources of few
    rows such as stock policies or the lines being picked."""
    if figure == "free":
        conditions = sellable(current_today())
        amount = StockBalance.on_hand - StockBalance.reserved
        total = (
            select(func.coalesce(func.sum(amount), 0))
            .select_from(StockBalance)
            .outerjoin(Lot, Lot.id == StockBalance.lot_id)
            .where(StockBalance.location_id == location, StockBalance.item_id == item, *conditions)
            .scalar_subquery()
        )
        return type_coerce(total, _QTY)
    balances = StockBalance.__table__.alias()
    amount = balances.c.on_hand
    if figure == "available":
        amount = balances.c.on_hand - balances.c.reserved
    total = (
        select(func.coalesce(func.sum(amount), 0))
        .where(
            balances.c.location_id == location,
            balances.c.item_id == item,
            balances.c.status == "available",
            balances.c.on_hand > 0,
        )
        .scalar_subquery()
    )
    return type_coerce(total, _QTY)


#: The figures ``stock_at`` gives, as report columns.
STOCK_FIGURES = {
    "on_hand": zh_en("可售现存量", "Sellable on hand"),
    "available": zh_en("可用量", "Available"),
    "free": zh_en("可出库量", "Free to ship"),
}


def _stock_links(location: str = "location_id") -> dict[str, Link]:
    return {
        "item": _link_to(Item, "item_id", _item_columns()),
        "lot": _link_to(Lot, "lot_id", _lot_columns()),
        "location": location_link(location),
        "region": region_link(location),
    }


register_source(
    Source(
        name="balances",
        label=zh_en("库存余额", "Stock balances"),
        table=lambda: StockBalance.__table__,
        columns={
            **_position_columns(),
            "status": SourceColumn(
                "text", zh_en("库存状态", "Stock status"), col("status"), options=STOCK_STATUSES
            ),
            "on_hand": SourceColumn("decimal", zh_en("现存量", "On hand"), col("on_hand")),
            "reserved": SourceColumn("decimal", zh_en("已预留", "Reserved"), col("reserved")),
            # only stock of status available can be reserved, sold or shipped: quarantined,
            # nonconforming (a recalled lot's) or travelling stock is on hand, never available
            "available": SourceColumn(
                "decimal",
                zh_en("可用量", "Available"),
                lambda t: type_coerce(
                    case((t.c.status == "available", t.c.on_hand - t.c.reserved), else_=0), _QTY
                ),
            ),
            # what may be sold or promised today, as the one-screen stock view counts it:
            # available, unreserved, of a released lot (or none) not expired
            "sellable": SourceColumn(
                "decimal",
                zh_en("可用量", "Available"),
                lambda t, lot: type_coerce(
                    case(
                        (and_(t.c.status == "available", _good(lot)), t.c.on_hand - t.c.reserved),
                        else_=0,
                    ),
                    _QTY,
                ),
                via="lot",
            ),
            "in_transit": SourceColumn(
                "decimal",
                zh_en("在途", "In transit"),
                lambda base, transit: BALANCE_FIGURES["transit"].columns["quantity"].expr(transit),
                via="transit",
            ),
            **_costed("on_hand"),
        },
        links={**_stock_links(), **BALANCE_FIGURES},
        location_column="location_id",
        book_figures=True,
    )
)


def _flow(ledger: FromClause) -> ColumnElement:
    """The row's ``STOCK_FLOWS`` code: its reason, read by the way the stock went."""
    reason = ledger.c.reason
    return case(
        (reason.in_([change.value for change in STATUS_CHANGES]), "status_change"),
        (ledger.c.quantity > 0, case(_RECEIVED_AS, value=reason, else_="other_in")),
        else_=case(_ISSUED_AS, value=reason, else_="other_out"),
    )


def _received(ledger: FromClause) -> ColumnElement:
    """What the row brought in (收入): its quantity when positive, else 0."""
    return type_coerce(case((ledger.c.quantity > 0, ledger.c.quantity), else_=0), _QTY)


def _issued(ledger: FromClause) -> ColumnElement:
    """What the row took out (发出), as a positive quantity; 0 for stock in."""
    return type_coerce(case((ledger.c.quantity < 0, -ledger.c.quantity), else_=0), _QTY)


def _at_cost(label, quantity: Callable[[FromClause], ColumnElement]) -> SourceColumn:
    """A ledger row's ``quantity`` (a column builder) valued at its item and lot's latest cost,
    as the stock value report values the shelves: opening, movements and closing add up.

    Priced after grouping (``Priced``): the ledger holds many movements of each item and lot, so
    a report summing values over the history sums the quantities by item and lot first (a
    balance row is one per item and lot already: its value is not declared so)."""

    def price(cost: FromClause) -> ColumnElement:
        return cost.c.unit_cost

    return SourceColumn(
        "money",
        label,
        lambda base, cost: type_coerce(quantity(base) * price(cost), _QTY),
        via="cost",
        priced=Priced(quantity, price),
    )


register_source(
    Source(
        name="ledger",
        label=zh_en("库存台账", "Stock ledger"),
        table=lambda: LedgerEntry.__table__,
        columns={
            "id": SourceColumn("integer", zh_en("编号", "Entry"), col("id")),
            "at": SourceColumn("datetime", zh_en("时间", "Time"), col("at")),
            **_position_columns(),
            "unit_id": SourceColumn("integer", zh_en("序列号编号", "Unit id"), col("unit_id")),
            "status": SourceColumn(
                "text", zh_en("库存状态", "Stock status"), col("status"), options=STOCK_STATUSES
            ),
            "quantity": SourceColumn("decimal", zh_en("数量", "Quantity"), col("quantity")),
            "unit_cost": SourceColumn("money", zh_en("单位成本", "Unit cost"), col("unit_cost")),
            "document": SourceColumn("text", zh_en("单据", "Document"), col("document")),
            "document_line": SourceColumn("integer", zh_en("行号", "Line"), col("document_line")),
            "reason": SourceColumn(
                "text", zh_en("原因", "Reason"), col("reason"), options=MOVEMENT_REASONS
            ),
            "counterpart_id": SourceColumn(
                "integer", zh_en("对方地点编号", "Counterpart id"), col("counterpart_location_id")
            ),
            "flow": SourceColumn("text", zh_en("收发类别", "Flow"), _flow, options=STOCK_FLOWS),
            "quantity_in": SourceColumn("decimal", zh_en("收入数量", "Received"), _received),
            "quantity_out": SourceColumn("decimal", zh_en("发出数量", "Issued"), _issued),
            "value": _at_cost(zh_en("金额（按最近成本）", "Value at latest cost"), col("quantity")),
            "value_in": _at_cost(zh_en("收入金额", "Value received"), _received),
            "value_out": _at_cost(zh_en("发出金额", "Value issued"), _issued),
        },
        links={
            **_stock_links(),
            "cost": Link(
                target=_last_costs,
                on=lambda base, target: (
                    (target.c.item_id == base.c.item_id)
                    & (target.c.lot_key == func.coalesce(base.c.lot_id, 0))
                ),
                columns=BALANCE_FIGURES["cost"].columns,
            ),
            "unit": _link_to(
                Unit,
                "unit_id",
                {"serial": SourceColumn("text", zh_en("序列号", "Serial"), col("serial"))},
            ),
            "user": user_link("user_id"),
            "counterpart": location_link("counterpart_location_id"),
        },
        location_column="location_id",
        book_figures=True,
    )
)

register_source(
    Source(
        name="lots",
        label=zh_en("批次", "Lots"),
        table=lambda: Lot.__table__,
        columns={
            **_lot_columns(),
            "id": SourceColumn("integer", zh_en("编号", "Id"), col("id")),
            "item_id": SourceColumn("integer", zh_en("商品编号", "Item id"), col("item_id")),
        },
        links={"item": _link_to(Item, "item_id", _item_columns())},
    )
)

register_source(
    Source(
        name="units",
        label=zh_en("序列号", "Serial units"),
        table=lambda: Unit.__table__,
        columns={
            "id": SourceColumn("integer", zh_en("编号", "Id"), col("id")),
            "serial": SourceColumn("text", zh_en("序列号", "Serial"), col("serial")),
            "item_id": SourceColumn("integer", zh_en("商品编号", "Item id"), col("item_id")),
            "lot_id": SourceColumn("integer", zh_en("批次编号", "Lot id"), col("lot_id")),
            "location_id": SourceColumn(
                "integer", zh_en("地点编号", "Location id"), col("location_id")
            ),
            "status": SourceColumn("text", zh_en("状态", "Status"), col("status")),
        },
        links=_stock_links(),
        location_column="location_id",
        book_figures=True,
    )
)


#: Stock age bands (库龄段): a band's code sorts in age order, its label is what people read.
AGE_BANDS = {
    "1_up_to_30": (30, zh_en("30天以内", "Up to 30 days")),
    "2_up_to_90": (90, zh_en("31–90天", "31–90 days")),
    "3_up_to_180": (180, zh_en("91–180天", "91–180 days")),
    "4_up_to_365": (365, zh_en("181–365天", "181–365 days")),
    "5_over_365": (None, zh_en("一年以上", "Over a year")),
}


def _stock_layers() -> FromClause:
    """What is left at each location of each arrival there, of each item and lot (库龄).

    Goods leave first in, first out, so the stock on hand (in every status but in transit) is the
    latest arrivals': walking them newest first, each keeps what the newer ones have not covered.
    An arrival is a positive ledger row that is not a status change (``STATUS_CHANGES``); the
    oldest one left takes whatever the arrivals do not explain (stock from before the ledger), so
    the layers always add up to the stock on hand."""
    ledger, balances = LedgerEntry.__table__, StockBalance.__table__
    lot_key = func.coalesce(ledger.c.lot_id, 0)
    position = (ledger.c.location_id, ledger.c.item_id, lot_key)
    newest_first = (ledger.c.at.desc(), ledger.c.id.desc())
    arrivals = (
        select(
            ledger.c.id, ledger.c.location_id, ledger.c.item_id, ledger.c.lot_id,
            lot_key.label("lot_key"), ledger.c.at, ledger.c.reason, ledger.c.document,
            ledger.c.quantity,
            (func.sum(ledger.c.quantity).over(partition_by=position, order_by=newest_first)
             - ledger.c.quantity).label("newer"),
            (func.row_number().over(partition_by=position, order_by=newest_first)
             == func.count().over(partition_by=position)).label("oldest"),
        )
        .where(_arrival(ledger))
        .subquery()
    )  # fmt: skip
    on_hand = (
        select(
            balances.c.location_id, balances.c.item_id, balances.c.lot_key,
            func.sum(balances.c.on_hand).label("on_hand"),
        )
        .where(balances.c.on_hand > 0, balances.c.status != "in_transit")
        .group_by(balances.c.location_id, balances.c.item_id, balances.c.lot_key)
        .subquery()
    )  # fmt: skip
    left = on_hand.c.on_hand - arrivals.c.newer
    same = and_(*(arrivals.c[name] == on_hand.c[name]
                  for name in ("location_id", "item_id", "lot_key")))  # fmt: skip
    return (
        select(
            arrivals.c.id, arrivals.c.location_id, arrivals.c.item_id, arrivals.c.lot_id,
            arrivals.c.lot_key, arrivals.c.at, arrivals.c.reason, arrivals.c.document,
            case((arrivals.c.oldest | (arrivals.c.quantity > left), left),
                 else_=arrivals.c.quantity).label("quantity"),
        )
        .select_from(arrivals.join(on_hand, same))
        .where(left > 0)
        .subquery()
    )  # fmt: skip


def _days_held(layers: FromClause) -> ColumnElement:
    return days_between(business_date(layers.c.at), literal(current_today(), Date))


def _age_band(layers: FromClause) -> ColumnElement:
    return band_of(_days_held(layers), AGE_BANDS)


def band_of(days: ColumnElement, bands: dict) -> ColumnElement:
    """The code of the band ``days`` falls in: ``bands`` maps each code to (its upper bound in
    days, its label), in order, the last one open-ended (bound None)."""
    bounded = [
        (days <= limit, code) for code, (limit, _label) in bands.items() if limit is not None
    ]
    return case(*bounded, else_=list(bands)[-1])


register_source(
    Source(
        name="stock_age",
        label=zh_en("库龄", "Stock age"),
        table=_stock_layers,
        columns={
            **_position_columns(),
            "received_at": SourceColumn("datetime", zh_en("入库时间", "Arrived at"), col("at")),
            "reason": SourceColumn(
                "text", zh_en("入库方式", "Arrived by"), col("reason"), options=MOVEMENT_REASONS
            ),
            "document": SourceColumn(
                "text", zh_en("入库单据", "Arrival document"), col("document")
            ),
            "quantity": SourceColumn(
                "decimal",
                zh_en("结存数量", "Quantity left"),
                lambda t: type_coerce(t.c.quantity, _QTY),
            ),
            "days_held": SourceColumn("integer", zh_en("库龄（天）", "Days held"), _days_held),
            "age_band": SourceColumn(
                "text",
                zh_en("库龄段", "Age band"),
                _age_band,
                options={code: label for code, (_, label) in AGE_BANDS.items()},
            ),
            **_costed("quantity"),
        },  # fmt: skip
        links={**_stock_links(), "cost": BALANCE_FIGURES["cost"]},
        location_column="location_id",
        book_figures=True,
        read_once=True,  # every arrival walked newest first: the detail and the totals share it
    )
)


def _outstanding(table) -> ColumnElement:
    return type_coerce(outstanding_of(table.c), _QTY)


register_source(
    Source(
        name="in_transit",
        label=zh_en("在途调拨", "Transfers in transit"),
        table=lambda: TransferLine.__table__,
        columns={
            "document": SourceColumn("text", zh_en("调拨单", "Transfer"), col("document")),
            "line": SourceColumn("integer", zh_en("行号", "Line"), col("line")),
            "source_id": SourceColumn(
                "integer", zh_en("调出地点编号", "From id"), col("source_id")
            ),
            "destination_id": SourceColumn(
                "integer", zh_en("调入地点编号", "To id"), col("destination_id")
            ),
            "item_id": SourceColumn("integer", zh_en("商品编号", "Item id"), col("item_id")),
            "lot_id": SourceColumn("integer", zh_en("批次编号", "Lot id"), col("lot_id")),
            "shipped": SourceColumn("decimal", zh_en("发出数量", "Shipped"), col("shipped")),
            "quantity": SourceColumn("decimal", zh_en("在途数量", "In transit"), _outstanding),
            "shipped_at": SourceColumn(
                "datetime", zh_en("发出时间", "Shipped at"), col("shipped_at")
            ),
        },
        links={
            "item": _link_to(Item, "item_id", _item_columns()),
            "lot": _link_to(Lot, "lot_id", _lot_columns()),
            "source": location_link("source_id"),
            "destination": location_link("destination_id"),
            "region": region_link("destination_id"),
        },
        location_column="destination_id",
        where=lambda table: _outstanding(table) > 0,
    )
)


# --- stocktake ---------------------------------------------------------------------------------


def _stocktake_variance():
    """Per count and (item, lot, status): the snapshot, the sum of the count entries, the gap.

    The union of the snapshot rows and the count entries, grouped: a lot on the books but never
    counted shows counted 0, a lot counted but not on the books shows expected 0.
    """
    snapshot, counts = StocktakeSnapshot.__table__, CountEntry.__table__
    stocktakes = Stocktake.__table__
    zero = literal(0, _QTY)
    both = union_all(
        select(snapshot.c.stocktake_id, snapshot.c.item_id, snapshot.c.lot_id,
               snapshot.c.status, snapshot.c.quantity.label("expected"), zero.label("counted")),
        select(counts.c.stocktake_id, counts.c.item_id, counts.c.lot_id, counts.c.status,
               zero, counts.c.quantity),
    ).subquery()  # fmt: skip
    expected = type_coerce(func.sum(both.c.expected), _QTY)
    counted = type_coerce(func.sum(both.c.counted), _QTY)
    return (
        select(
            stocktakes.c.document,
            stocktakes.c.location_id,
            stocktakes.c.state,
            stocktakes.c.blind,
            both.c.item_id,
            both.c.lot_id,
            both.c.status,
            expected.label("expected"),
            counted.label("counted"),
            type_coerce(counted - expected, _QTY).label("variance"),
        )  # fmt: skip
        .join_from(both, stocktakes, stocktakes.c.id == both.c.stocktake_id)
        .group_by(
            stocktakes.c.document,
            stocktakes.c.location_id,
            stocktakes.c.state,
            stocktakes.c.blind,
            both.c.item_id,
            both.c.lot_id,
            both.c.status,
        )  # fmt: skip
        .subquery("stocktake_variance")
    )


def _stocktake_source(name: str, label: dict, where=None) -> Source:
    return Source(
        name=name,
        label=label,
        table=_stocktake_variance,
        columns={
            "document": SourceColumn("text", zh_en("盘点单", "Stocktake"), col("document")),
            "location_id": SourceColumn(
                "integer", zh_en("地点编号", "Location id"), col("location_id")
            ),
            "state": SourceColumn("text", zh_en("盘点状态", "Count state"), col("state")),
            "status": SourceColumn(
                "text", zh_en("库存状态", "Stock status"), col("status"), options=STOCK_STATUSES
            ),
            "expected": SourceColumn("decimal", zh_en("账面数", "Book quantity"), col("expected")),
            "counted": SourceColumn("decimal", zh_en("实盘数", "Counted"), col("counted")),
            "variance": SourceColumn("decimal", zh_en("差异", "Variance"), col("variance")),
        },
        links={
            "item": _link_to(Item, "item_id", _item_columns()),
            "lot": _link_to(Lot, "lot_id", _lot_columns()),
            "location": location_link("location_id"),
        },
        location_column="location_id",
        where=where,
    )


#: The variance, for whoever reviews a count (the roles decide who may run the report).
register_source(_stocktake_source("stocktake_variance", zh_en("盘点差异", "Stocktake variance")))
#: The book quantities for counters — of open (non-blind) counts only: a blind count stays blind.
register_source(
    _stocktake_source(
        "stocktake_book",
        zh_en("盘点账面数（明盘）", "Stocktake book quantities (open count)"),
        where=lambda table: table.c.blind.is_(False),
    )
)


def _closing_stock() -> FromClause:
    """Each closed month's balances with the month's last day (a reopened month keeps none)."""
    balances, periods = PeriodBalance.__table__, ClosedPeriod.__table__
    return (
        select(
            periods.c.through,
            balances.c.location_id,
            balances.c.item_id,
            balances.c.lot_id,
            balances.c.status,
            balances.c.quantity,
            balances.c.unit_cost,
            type_coerce(balances.c.quantity * balances.c.unit_cost, _QTY).label("value"),
        )  # fmt: skip
        .join_from(balances, periods, periods.c.id == balances.c.period_id)
        .subquery("closing_stock")
    )


#: 期末结存: the stock each closed month ended with, valued as it closed — what the month's
#: books say, however the ledger has grown since.
register_source(
    Source(
        name="closing_stock",
        label=zh_en("期末结存（已结账月份）", "Closing stock of closed months"),
        table=_closing_stock,
        columns={
            "through": SourceColumn("date", zh_en("结账月末", "Month end"), col("through")),
            **_position_columns(),
            "status": SourceColumn(
                "text", zh_en("库存状态", "Stock status"), col("status"), options=STOCK_STATUSES
            ),
            "quantity": SourceColumn(
                "decimal", zh_en("期末数量", "Closing quantity"), col("quantity")
            ),  # fmt: skip
            "unit_cost": SourceColumn("money", zh_en("单位成本", "Unit cost"), col("unit_cost")),
            "value": SourceColumn("money", zh_en("期末金额", "Closing value"), col("value")),
        },
        links=_stock_links(),
        location_column="location_id",
    )
)
