"""An expired lot is not accepted into available stock, through the API: the purchase receipt's
inspection refuses to accept it (409 naming the line, item, lot, expiry date and location, field
``lot``) and writes nothing; rejected as nonconforming it goes through (the kernel tests cover
the receipt straight to available and the customer return)."""

from __future__ import annotations

from decimal import Decimal

from app.kernel.stock import StockBalance
from tests.application.purchasing_fixtures import (
    VERIFY,
    bed_fixture,  # noqa: F401  (the fixture ``bed``)
    day,
    url,
)

D = Decimal


def received(bed, expiry: str) -> tuple[dict, int]:
    """A receipt of 5 of an item with lot L-EXP expiring on ``expiry``, received (待验)."""
    supplier = bed.supplier()
    item = bed.item("GAUZE", "0690123456011")["data"]["item"]
    record = bed.create("keeper", "purchase_receipt", {
        "location": bed.loc("WH-SH"), "supplier": supplier["id"],
        "lines": [{"item": item, "lot": "L-EXP", "expiry_date": expiry, "quantity": "5",
                   "unit_cost": "3.00"}],
    })  # fmt: skip
    response = bed.fire("keeper", "purchase_receipt", record["id"], "receive")
    assert response.status_code == 200, response.json
    return response.json, item


def record_inspection(bed, record: dict, accepted: str, rejected: str) -> dict:
    line = {key: record["data"]["lines"][0][key]
            for key in ("item", "lot", "expiry_date", "quantity", "unit_cost")}  # fmt: skip
    line |= {"accepted_quantity": accepted, "rejected_quantity": rejected,
             "conclusion": "accepted" if rejected == "0" else "rejected"}  # fmt: skip
    if rejected != "0":
        line["reject_reason"] = "过期 / expired"
    response = bed.api("qa").put(url("purchase_receipt", record["id"]), json={
        "version": record["version"], "inspector": bed.users["qa"], "inspected_at": day(0),
        "lines": [line],
    })  # fmt: skip
    assert response.status_code == 200, response.json
    return response.json


def test_inspection_refuses_to_accept_an_expired_lot_and_writes_nothing(bed):
    expiry = day(-3)
    record, item = received(bed, expiry)  # 待验 takes it: the inspection is where it is caught
    assert bed.balances() == {("WH-SH", item, "L-EXP", "awaiting_inspection"): D(5)}
    ledger = bed.ledger()
    record = record_inspection(bed, record, accepted="5", rejected="0")

    response = bed.fire("qa", "purchase_receipt", record["id"], "inspect", **VERIFY)
    assert response.status_code == 409
    assert response.json["field"] == "lines[0].lot"  # the line's field, as the page marks it
    error = response.json["error"]  # the qa user reads Chinese
    assert error.startswith("第 1 行：") and "L-EXP" in error and expiry in error, error
    assert "GAUZE" in error and "WH-SH" in error and "不合格" in error
    now = bed.api("qa").get(url("purchase_receipt", record["id"])).json
    assert (now["state"], now["version"]) == ("awaiting_inspection", record["version"])
    assert bed.ledger() == ledger
    assert bed.balances() == {("WH-SH", item, "L-EXP", "awaiting_inspection"): D(5)}

    # rejected as nonconforming (不合格), the lot goes where it belongs
    record = record_inspection(bed, record, accepted="0", rejected="5")
    response = bed.fire("qa", "purchase_receipt", record["id"], "inspect", **VERIFY)
    assert response.status_code == 200, response.json
    assert bed.balances() == {("WH-SH", item, "L-EXP", "nonconforming"): D(5)}


def test_a_lot_still_good_today_is_accepted(bed):
    record, item = received(bed, day(0))
    record = record_inspection(bed, record, accepted="5", rejected="0")
    response = bed.fire("qa", "purchase_receipt", record["id"], "inspect", **VERIFY)
    assert response.status_code == 200, response.json
    with bed.db.session() as session:
        assert session.query(StockBalance).filter_by(status="available").count() == 1
