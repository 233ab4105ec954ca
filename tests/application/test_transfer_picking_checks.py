"""A warehouse's "picking done" (拣货完成) on a transfer out, through the HTTP API: the shipment's
own checks run — the kernel's posting rules and what is on hand — and nothing moves. An expired
lot, a unit already sold, a serial under another item's lot or more than is on hand are refused
on the picker's line, the transfer still being picked, instead of after the supervisor scanned
everything again. What passes leaves the stock, the ledger, the audit trail and the order's hold
as they were until the review ships it. And once shipped, the store receiving it records what
arrived, not where it came from."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from app.kernel import audit
from app.kernel.audit import AuditEntry
from app.kernel.items import Item, Lot, Unit, get_or_create_lot
from app.kernel.locations import Location
from app.kernel.stock import Movement, Reason, post_movements
from app.kernel.transfers import TransferLine
from tests.application import transfers_fixtures as fixtures
from tests.application.transfers_fixtures import (
    TO,
    approve,
    book,
    ledger_count,
    records_of,
    review_and_ship,
    stock,
)

chain, as_user = fixtures.chain, fixtures.as_user  # the fixtures this module uses

TQ = "/api/v1/forms/transfer_request/records"
TI = "/api/v1/forms/transfer_in/records"


def to_pick(db, as_user, chain, lines, item="strip") -> int:
    """S1's approved request for ``item``; the warehouse clerk saves ``lines`` as picked (not
    yet done): the transfer out's id."""
    clerk = as_user("clerk1")
    body = {"from_location": chain["WH1"], "to_location": chain["S1"],
            "lines": [{"item": chain[item], "quantity": "1", "unit_price": "10"}]}  # fmt: skip
    asked = clerk.post(TQ, json=body).json
    assert clerk.post(f"{TQ}/{asked['id']}/transitions/submit", json={}).status_code == 200
    approve(db, as_user("manager1"), chain["manager1"], asked["id"])
    [out] = records_of(db, "transfer_out")
    picker = as_user("whclerk")
    version = picker.get(f"{TO}/{out.id}").json["version"]
    saved = picker.put(f"{TO}/{out.id}", json={"lines": lines, "version": version})
    assert saved.status_code == 200, saved.json
    return out.id


def everything(db) -> tuple:
    """What a refused or checked picking must leave as it was: stock, ledger, shipped lines,
    lots and units on record (and where the units are), the audit trail."""
    with db.session() as session:
        units = session.execute(select(Unit.serial, Unit.status, Unit.location_id)).all()
        return (
            stock(db),
            ledger_count(db),
            session.scalar(select(func.count()).select_from(TransferLine)),
            session.scalar(select(func.count()).select_from(Lot)),
            sorted(units),
            session.scalar(select(func.count()).select_from(AuditEntry).where(
                AuditEntry.action == "stock.posted")),
        )  # fmt: skip


def finish_picking(as_user, out_id: int):
    return as_user("whclerk").post(f"{TO}/{out_id}/transitions/finish_picking", json={})


def assert_refused_at_picking(db, as_user, out_id: int, response, field: str, words, before):
    assert response.status_code == 409, response.json
    assert response.json["field"] == field, response.json
    for word in words:
        assert word in response.json["error"], response.json
    assert everything(db) == before
    transfer = as_user("whclerk").get(f"{TO}/{out_id}").json
    assert transfer["state"] == "draft"  # still being picked: the picker corrects the line
    assert records_of(db, "transfer_in") == []


def named(response) -> set[str]:
    """The fields a refusal names: the one a 403 names, or those a 422 lists."""
    return {response.json.get("field"), *response.json.get("errors", {})}


def strip_lot(db, chain, number: str, expiry: dt.date, quantity: int) -> None:
    """Book ``quantity`` of STRIP lot ``number`` (expiring on ``expiry``) into WH1."""
    with db.transaction() as session:
        strip = session.get(Item, chain["strip"])
        lot = get_or_create_lot(session, strip, number, expiry)
        movement = Movement(item=strip, quantity=D(quantity), lot=lot,
                            destination=session.get(Location, chain["WH1"]))  # fmt: skip
        post_movements(session, [movement], reason=Reason.opening, document=f"OPENING-{number}")


def test_an_expired_lot_is_refused_when_the_picking_is_done(db, as_user, chain):
    strip_lot(db, chain, "OLD", dt.date(2020, 1, 31), 3)
    out_id = to_pick(db, as_user, chain, [
        {"item": chain["strip"], "lot": "L1", "quantity": "1"},
        {"item": chain["strip"], "lot": "OLD", "quantity": "1"},
    ])  # fmt: skip
    before = everything(db)
    refused = finish_picking(as_user, out_id)
    assert_refused_at_picking(db, as_user, out_id, refused, "lines[1].lot", ["OLD"], before)


def test_a_unit_already_sold_is_refused_when_the_picking_is_done(db, as_user, chain):
    with db.transaction() as session:
        ecg = session.get(Item, chain["ecg"])
        sold = session.scalar(select(Unit).where(Unit.serial == "SN2"))
        post_movements(session, [Movement(item=ecg, quantity=D(1), unit=sold, lot=sold.lot,
                                          source=session.get(Location, chain["WH1"]))],
                       reason=Reason.sale, document="SO-EARLIER")  # fmt: skip
    unit = {"item": chain["ecg"], "lot": "E1", "serial": "SN2", "quantity": "1"}
    out_id = to_pick(db, as_user, chain, [unit], item="ecg")
    before = everything(db)
    refused = finish_picking(as_user, out_id)
    assert_refused_at_picking(db, as_user, out_id, refused, "lines[0].serial", ["SN2"], before)


def test_a_serial_under_another_items_lot_is_refused_when_the_picking_is_done(db, as_user, chain):
    """ECG unit SN1 entered under STRIP's lot L1 (ECG has none of that number), then under
    another ECG lot than its own: each refused on the line's lot, nothing made up or moved."""
    unit = {"item": chain["ecg"], "lot": "L1", "serial": "SN1", "quantity": "1"}
    out_id = to_pick(db, as_user, chain, [unit], item="ecg")
    before = everything(db)
    refused = finish_picking(as_user, out_id)
    words = ["Line 1", "ECG", "L1"]
    assert_refused_at_picking(db, as_user, out_id, refused, "lines[0].lot", words, before)

    with db.transaction() as session:
        get_or_create_lot(session, session.get(Item, chain["ecg"]), "E2", dt.date(2033, 1, 31))
    picker = as_user("whclerk")
    version = picker.get(f"{TO}/{out_id}").json["version"]
    lines = [{**unit, "lot": "E2"}]
    saved = picker.put(f"{TO}/{out_id}", json={"lines": lines, "version": version})
    assert saved.status_code == 200, saved.json
    before = everything(db)
    refused = finish_picking(as_user, out_id)
    assert_refused_at_picking(db, as_user, out_id, refused, "lines[0].lot", ["SN1"], before)


def test_more_than_is_on_hand_is_refused_when_the_picking_is_done(db, as_user, chain):
    book(db, chain, "WH1", 29)  # 39 of lot L1 on hand
    out_id = to_pick(
        db, as_user, chain, [{"item": chain["strip"], "lot": "L1", "quantity": "1000"}]
    )
    before = everything(db)
    refused = finish_picking(as_user, out_id)
    words = ["STRIP", "1000", "39"]
    assert_refused_at_picking(db, as_user, out_id, refused, "lines[0].quantity", words, before)


def test_a_picking_that_can_leave_waits_for_its_review_with_nothing_moved(db, as_user, chain):
    """The check ran the shipment in full and rolled it back: no stock, ledger row, shipped line
    or audit entry of it is left, the audit chain still verifies, and the review ships it."""
    out_id = to_pick(db, as_user, chain, [
        {"item": chain["strip"], "lot": "L1", "quantity": "4"},
        {"item": chain["ecg"], "lot": "E1", "serial": "SN1", "quantity": "1"},
    ])  # fmt: skip
    before = everything(db)
    done = finish_picking(as_user, out_id)
    assert done.status_code == 200, done.json
    assert done.json["state"] == "picked"
    assert everything(db) == before
    with db.session() as session:
        assert audit.verify(session) == []
    shipped = review_and_ship(as_user("whsuper"), out_id)
    assert shipped.status_code == 200, shipped.json
    assert stock(db)[("WH1", "STRIP", "L1", "available")] == D(6)
    with db.session() as session:
        assert session.scalar(select(Unit.status).where(Unit.serial == "SN1")) == "in_transit"
        assert audit.verify(session) == []


@pytest.fixture
def incoming(db, as_user, chain):
    """WH1's transfer of 4 strips of lot L1 to S1, reviewed and shipped: S1's transfer in."""
    out_id = to_pick(db, as_user, chain, [{"item": chain["strip"], "lot": "L1", "quantity": "4"}])
    assert review_and_ship(as_user("whsuper"), out_id).status_code == 200
    [received] = records_of(db, "transfer_in")
    return received


def test_the_receiver_records_what_arrived_not_where_it_came_from(db, as_user, chain, incoming):
    """In transit, the store changes the received date and the lines' counts, temperatures and
    notes; the source, the destination and the rest of the header stay the shipment's, each
    refused naming itself, and the shipment's transfer in is not deleted."""
    store = as_user("clerk1")
    current = store.get(f"{TI}/{incoming.id}").json
    header = {"from_location": chain["S2"], "to_location": chain["S2"],
              "transfer_number": "TO-FORGED", "ship_date": "2020-01-01"}  # fmt: skip
    for field, value in header.items():
        refused = store.put(
            f"{TI}/{incoming.id}", json={field: value, "version": current["version"]}
        )
        assert refused.status_code in (403, 422), (field, refused.json)
        assert field in named(refused), (field, refused.json)
    deleted = store.delete(f"{TI}/{incoming.id}?version={current['version']}")
    assert deleted.status_code in (403, 409), deleted.json
    assert [record.data["from_location"] for record in records_of(db, "transfer_in")] == [
        chain["WH1"]
    ]

    lines = [{**current["data"]["lines"][0], "received": "3", "damaged": "0",
              "discrepancy_note": "one box missing"}]  # fmt: skip
    body = {"lines": lines, "received_date": current["data"]["ship_date"],
            "version": current["version"]}  # fmt: skip
    saved = store.put(f"{TI}/{incoming.id}", json=body)
    assert saved.status_code == 200, saved.json
    received = store.post(f"{TI}/{incoming.id}/transitions/receive_partial", json={})
    assert received.status_code == 200, received.json
    assert received.json["data"]["from_location"] == chain["WH1"]
    assert received.json["data"]["to_location"] == chain["S1"]
    assert stock(db)[("S1", "STRIP", "L1", "available")] == D(3)
