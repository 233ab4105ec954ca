"""Quarantine (质量冻结): stop a suspect lot everywhere while QA finds out, then let it go again.

A complaint, an adverse event or a supplier's notice makes a lot suspect long before anyone knows
whether it must be recalled. ``quarantine_lots`` marks the lots ``quarantined``: from then on
``post_movements`` refuses to sell or transfer them and ``reserve`` to hold them, and what orders
already held of them is given back (never delivered while in doubt). The goods stay where they
are, in their stock status: nothing is set apart, so releasing them puts everything back as it
was, and supplier returns and scrap still take them out. ``release_lots`` ends the quarantine;
a lot recalled meanwhile stays recalled — the recall decides its fate — and, should the recall be
withdrawn, goes back to released rather than to the quarantine that ended.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.i18n import _
from app.kernel import audit
from app.kernel.errors import InvalidMovement
from app.kernel.items import Item, Lot, LotStatus
from app.kernel.reservations import Released, release_lot_holds
from app.kernel.users import User


class LotNotReleased(InvalidMovement):
    """Only a lot in normal status can be quarantined: a quarantined lot is followed up on the
    quarantine that stopped it, a recalled one on its recall."""

    def __init__(self, lot: Lot, field: str):
        if lot.status == LotStatus.recalled:
            message = _(
                "Lot %(lot)s is recalled: it is blocked already; follow it up on its recall.",
                lot=lot.lot_number,
            )
        else:
            message = _(
                "Lot %(lot)s is quarantined already: follow it up on the quarantine that "
                "stopped it instead of opening another.",
                lot=lot.lot_number,
            )
        super().__init__(message, field)


def _check_item(item: Item, lots: list[Lot], field: str) -> None:
    if not lots:
        raise InvalidMovement(_("Name at least one lot."), field)
    for lot in lots:
        if lot.item_id != item.id:
            raise InvalidMovement(
                _("Lot %(lot)s belongs to another item.", lot=lot.lot_number), field
            )


def quarantine_lots(
    session: Session,
    item: Item,
    lots: list[Lot],
    *,
    user: User | None = None,
    document: str | None = None,
    field: str = "lots",
) -> list[Released]:
    """Stop ``lots`` of ``item`` everywhere at once and give back what orders held of them."""
    _check_item(item, lots, field)
    for lot in lots:
        if lot.status != LotStatus.released:
            raise LotNotReleased(lot, field)
    for lot in lots:
        lot.status = LotStatus.quarantined
    session.flush()
    released = release_lot_holds(session, lots)
    audit.record(
        session,
        "lot.quarantined",
        "lot",
        document,
        changes={
            "item": item.code,
            "lots": [lot.lot_number for lot in lots],
            "released": [[hold.document, hold.line, str(hold.quantity)] for hold in released],
        },
        context=audit.acting(user),
    )
    return released


def release_lots(
    session: Session,
    item: Item,
    lots: list[Lot],
    *,
    user: User | None = None,
    document: str | None = None,
    field: str = "lots",
) -> list[Lot]:
    """End the quarantine of ``lots``: they may be sold and moved again. Returns the lots
    released; a lot recalled meanwhile (or never quarantined) is left as it is."""
    _check_item(item, lots, field)
    released = [lot for lot in lots if lot.status == LotStatus.quarantined]
    for lot in released:
        lot.status = LotStatus.released
    for lot in lots:  # recalled meanwhile: the recall still blocks it, the quarantine is over
        if lot.status_before_recall == LotStatus.quarantined:
            lot.status_before_recall = LotStatus.released
    session.flush()
    audit.record(
        session,
        "lot.released",
        "lot",
        document,
        changes={
            "item": item.code,
            "lots": [lot.lot_number for lot in released],
            "left": [[lot.lot_number, str(lot.status)] for lot in lots if lot not in released],
        },
        context=audit.acting(user),
    )
    return released
