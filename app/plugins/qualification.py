"""Qualification (首营) actions: master cards approved by QA become what documents may use.

``sync_item`` writes an approved item card (form ``item_master``) to the kernel's items, so that
documents, scans and stock link the kernel item. ``check_supplier_qualification`` refuses a
purchase from a supplier QA has not approved or whose licences have lapsed, and of items whose
registration certificate has expired; the refusal names the licence, its number and its expiry
date, so a clerk knows what to ask the supplier for::

    - action: check_supplier_qualification
      params: {supplier: supplier, lines: lines, item: item}
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from app.i18n import _
from app.kernel.errors import InvalidGTIN
from app.kernel.items import (
    DeviceClass,
    Item,
    StorageCondition,
    TrackingMode,
    business_today,
    is_valid_gtin,
    require_registration,
)
from app.plugins import _common as common
from app.workflow.actions import Action, ActionContext, ActionError

#: The item card's fields copied as they are onto the kernel item.
ITEM_TEXT_FIELDS = ("name", "specification", "manufacturer", "registration_cert")


def _date(value) -> dt.date | None:
    if value in (None, ""):
        return None
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


class SyncItem(Action):
    """On approval of an item card: create or update its kernel item, link it in ``item``.
    With ``check_only`` (on submit) it only refuses what the approval would: a GTIN with a wrong
    check digit, or one another item carries; so HQ hears it before the card reaches QA."""

    name = "sync_item"
    label = {
        "zh_CN": "将商品首营资料同步为库存商品",
        "en": "Create or update the stock item from an approved item card",
    }
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"check_only": {"type": "boolean"}},
    }

    def run(self, context: ActionContext) -> None:
        data = dict(context.record.data or {})
        if context.params.get("check_only"):
            self._check_gtin(context, data, self._synced(context, data))
            return
        item = self._target(context, data)
        item.code = data["code"]
        for field in ITEM_TEXT_FIELDS:
            setattr(item, field, data.get(field))
        item.unit_of_measure = data.get("unit_of_measure") or "EA"
        item.gtin = data.get("gtin") or None
        item.registration_expiry = _date(data.get("registration_expiry"))
        item.device_class = DeviceClass(data.get("device_class") or "II")
        item.tracking = TrackingMode(data.get("tracking") or "lot")
        item.expiry_required = bool(data.get("expiry_required", True))
        item.whole_units = bool(data.get("whole_units", True))
        item.shelf_life_days = data.get("shelf_life_days")
        item.storage_condition = StorageCondition(data.get("storage_condition") or "normal")
        item.near_expiry_days = int(data.get("near_expiry_days") or 90)
        item.active = True
        context.session.flush()
        context.record.data = {**data, "item": item.id}

    def _target(self, context: ActionContext, data: dict) -> Item:
        """The kernel item this card was synced to before, else the one with its code, else a
        new one; a GTIN already carried by another item is refused by name."""
        item = self._synced(context, data)
        self._check_gtin(context, data, item)
        if item is None:
            item = Item(code=data["code"], name=data["name"])
            context.session.add(item)
        return item

    @staticmethod
    def _synced(context: ActionContext, data: dict) -> Item | None:
        """The kernel item this card was synced to before, else the one with its code."""
        session = context.session
        item = session.get(Item, int(data["item"])) if data.get("item") else None
        if item is None:
            item = session.scalar(select(Item).where(Item.code == data.get("code")))
        return item

    @staticmethod
    def _check_gtin(context: ActionContext, data: dict, item: Item | None) -> None:
        gtin = data.get("gtin")
        if not gtin:
            return
        if not is_valid_gtin(gtin):
            raise InvalidGTIN(gtin)
        holder = context.session.scalar(select(Item).where(Item.gtin == gtin))
        if holder is not None and holder is not item:
            raise ActionError(
                _("The GTIN %(gtin)s already belongs to item %(item)s.", gtin=gtin,
                  item=holder.code)
            )  # fmt: skip


def _licences(supplier: dict) -> list[tuple[str, str, dt.date | None]]:
    """The supplier's licences as (what it is, number, expiry); a missing expiry never lapses."""
    kind = supplier.get("licence_kind") or "permit"
    found = [
        (
            _("medical device business filing")
            if kind == "filing"
            else _("medical device business licence"),
            supplier.get("licence_number") or "-",
            _date(supplier.get("licence_expiry")),
        )
    ]
    if supplier.get("business_licence_number"):
        found.append(
            (
                _("business licence"),
                supplier["business_licence_number"],
                _date(supplier.get("business_licence_expiry")),
            )
        )
    return found


class CheckSupplierQualification(Action):
    """Refuse buying from an unapproved supplier, on a lapsed licence, or an expired item."""

    name = "check_supplier_qualification"
    label = {
        "zh_CN": "供应商未审核、证照过期或商品失效时拒绝采购",
        "en": "Refuse buying from an unapproved or unlicensed supplier, or an expired item",
    }
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["supplier"],
        "properties": {
            "supplier": common.FIELD,
            "supplier_form": common.FIELD,
            "lines": common.FIELD,
            "item": common.FIELD,
        },
    }

    def run(self, context: ActionContext) -> None:
        params = context.params
        today = business_today()
        self._check_supplier(context, today)
        if params.get("lines"):
            for line in common.lines_of(context, params["lines"]):
                require_registration(common.item(context, line, params.get("item", "item")), today)

    def _check_supplier(self, context: ActionContext, today: dt.date) -> None:
        value = (context.record.data or {}).get(context.params["supplier"])
        form = context.params.get("supplier_form", "supplier")
        supplier = context.records.read(form, value) if value is not None else None
        if supplier is None:
            raise ActionError(_("No supplier is given, or it does not exist."))
        data = supplier.data or {}
        name = data.get("name") or supplier.number or str(supplier.id)
        if supplier.state != "approved":
            raise ActionError(
                _("Supplier %(supplier)s has not passed the qualification review by QA.",
                  supplier=name)
            )  # fmt: skip
        for licence, number, expiry in _licences(data):
            if expiry is not None and expiry < today:
                raise ActionError(
                    _(
                        "The %(licence)s %(number)s of supplier %(supplier)s expired on %(date)s.",
                        licence=licence,
                        number=number,
                        supplier=name,
                        date=expiry.isoformat(),
                    )
                )
