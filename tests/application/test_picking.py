"""拣货建议 through the HTTP API: a transfer out a store's request made reaches the warehouse as
items and quantities; Suggest lots writes onto each line the lots (and serial units) the
warehouse holds free for it, earliest expiry first — expired, recalled and reserved stock left
out, lines of one item sharing the stock in their order, what is short said — and reserves or
moves nothing."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import select

from app.kernel import jobs, reservations
from app.kernel.items import Item, Lot, get_or_create_lot
from app.kernel.locations import Location
from app.kernel.reservations import Reservation
from app.kernel.stock import Movement, Reason, post_movements
from app.meta.models import Record
from tests.application import transfers_fixtures as fixtures
from tests.application.transfers_fixtures import TO, approve, records_of, stock

chain, as_user = fixtures.chain, fixtures.as_user  # the fixtures this module uses

TQ = "/api/v1/forms/transfer_request/records"


def more_strips(db, chain) -> None:
    """At WH1 besides L1 (10, 2031-06-30) and the recalled RC: EARLY (3, 2030-03-31), OLD
    (2, expired) and LATE (4, 2032-01-31) of which a sales order holds 4."""
    with db.transaction() as session:
        strip, warehouse = session.get(Item, chain["strip"]), session.get(Location, chain["WH1"])
        lots = {number: get_or_create_lot(session, strip, number, expiry) for number, expiry in (
            ("EARLY", dt.date(2030, 3, 31)), ("OLD", dt.date(2026, 1, 31)),
            ("LATE", dt.date(2032, 1, 31)))}  # fmt: skip
        opening = [
            Movement(item=strip, quantity=Decimal(count), lot=lots[number], destination=warehouse)
            for number, count in (("EARLY", 3), ("OLD", 2), ("LATE", 4))
        ]
        post_movements(session, opening, reason=Reason.opening, document="MORE")
        reservations.reserve(session, "SO-HELD", 1, strip, Decimal(4), warehouse, lot=lots["LATE"])


def requested(db, as_user, chain, lines, store: str = "1") -> int:
    """Store S<store>'s request for ``lines`` (item code, quantity), approved: the id of the
    transfer out it made."""
    clerk = as_user(f"clerk{store}")
    body = {"from_location": chain["WH1"], "to_location": chain[f"S{store}"], "lines": [
        {"item": chain[item], "quantity": quantity, "unit_price": "10"}
        for item, quantity in lines]}  # fmt: skip
    asked = clerk.post(TQ, json=body).json
    assert clerk.post(f"{TQ}/{asked['id']}/transitions/submit", json={}).status_code == 200
    approve(db, as_user(f"manager{store}"), chain[f"manager{store}"], asked["id"])
    return max(out.id for out in records_of(db, "transfer_out"))


def hold_l1(db, chain, quantity: Decimal) -> None:
    """The transfer out (the only one) holds ``quantity`` of L1 at WH1, as an order's
    allocation reserves the lots it names on its transfer."""
    [record] = records_of(db, "transfer_out")
    with db.transaction() as session:
        strip, warehouse = session.get(Item, chain["strip"]), session.get(Location, chain["WH1"])
        lot = session.scalar(select(Lot).where(Lot.lot_number == "L1"))
        reservations.reserve(session, record.number, 1, strip, quantity, warehouse, lot=lot)


def save_lines(picker, out: int, lines) -> None:
    """The picker saves the transfer's ``lines`` (a function of the current ones, or a list)."""
    current = picker.get(f"{TO}/{out}").json
    if callable(lines):
        lines = lines(current["data"]["lines"])
    saved = picker.put(f"{TO}/{out}", json={"lines": lines, "version": current["version"]})
    assert saved.status_code == 200, saved.json


def scan_lot(picker, out: int, lot: str) -> None:
    """The picker names ``lot`` on every line (as a scan of the carton would)."""
    save_lines(picker, out, lambda lines: [{**line, "lot": lot} for line in lines])


def test_suggest_lots_writes_each_lines_lots_earliest_expiry_first(db, as_user, chain):
    more_strips(db, chain)
    out = requested(db, as_user, chain, [("strip", "4"), ("ecg", "2"), ("strip", "12")])
    before = stock(db)
    picker = as_user("whclerk")
    response = picker.post(f"{TO}/{out}/transitions/suggest_lots", json={})
    assert response.status_code == 200, response.json
    assert response.json["state"] == "draft"
    assert [line.get("suggested_lots") for line in response.json["data"]["lines"]] == [
        "EARLY (2030-03-31) × 3; L1 (2031-06-30) × 1",
        "E1 (2032-01-31) × 2: SN1, SN2",
        "L1 (2031-06-30) × 9; 缺货 / short 3",  # OLD expired, RC recalled, LATE held
    ]
    # a hint, not a hold: nothing reserved or moved, and the quantities are as asked
    assert stock(db) == before
    with db.session() as session:
        assert session.scalars(select(Reservation.document)).all() == ["SO-HELD"]
    assert [line["quantity"] for line in response.json["data"]["lines"]] == ["4", "2", "12"]
    page = picker.get(f"/forms/transfer_out/{out}").text
    assert "Lots to pick" in page and "EARLY (2030-03-31) × 3" in page


def test_only_the_source_suggests_and_only_while_picking(db, as_user, chain):
    out = requested(db, as_user, chain, [("strip", "4")])
    refused = as_user("clerk1").post(f"{TO}/{out}/transitions/suggest_lots", json={})
    assert refused.status_code in (403, 404)  # the requesting store sees no transfer out
    picker = as_user("whclerk")
    assert picker.post(f"{TO}/{out}/transitions/suggest_lots", json={}).status_code == 200
    # a suggestion is not a pick: the picking is done once each line names what was taken
    unscanned = picker.post(f"{TO}/{out}/transitions/finish_picking", json={})
    assert unscanned.status_code == 422
    assert unscanned.json["errors"] == {"lines[0].lot": ["Scan or enter this line's lot"]}
    scan_lot(picker, out, "L1")
    assert picker.post(f"{TO}/{out}/transitions/finish_picking", json={}).status_code == 200
    late = picker.post(f"{TO}/{out}/transitions/suggest_lots", json={})
    assert late.status_code == 409  # picked: the lines are fixed


def test_printed_while_picked_it_is_the_pickers_picking_list(db, as_user, chain):
    out = requested(db, as_user, chain, [("strip", "4")])
    picker = as_user("whclerk")
    before = picker.get(f"/forms/transfer_out/{out}/print").text  # no suggestion yet
    assert "Transfer note" in before and "Lots to pick" not in before
    assert picker.post(f"{TO}/{out}/transitions/suggest_lots", json={}).status_code == 200
    listed = picker.get(f"/forms/transfer_out/{out}/print").text
    assert "<h1>Picking list</h1>" in listed
    assert "Lots to pick" in listed and "L1 (2031-06-30) × 4" in listed
    # once picked it is the transfer note again, without the hint
    scan_lot(picker, out, "L1")
    assert picker.post(f"{TO}/{out}/transitions/finish_picking", json={}).status_code == 200
    picked = picker.get(f"/forms/transfer_out/{out}/print").text
    assert "<h1>Transfer note</h1>" in picked and "Lots to pick" not in picked
    assert "Why not the earliest expiry" not in picked  # no line passed over an earlier lot


def test_a_line_whose_lot_is_named_is_left_as_it_is(db, as_user, chain):
    """A picker who scanned a line named its lot (as an order's allocation names, and reserves,
    its transfer's): such a line gets no suggestion, and what it takes is not offered again."""
    out = requested(db, as_user, chain, [("strip", "8")])
    picker = as_user("whclerk")
    lines = [{"item": chain["strip"], "lot": "L1", "quantity": "7"},
             {"item": chain["strip"], "quantity": "4"}]  # fmt: skip
    save_lines(picker, out, lines)
    response = picker.post(f"{TO}/{out}/transitions/suggest_lots", json={})
    assert response.status_code == 200, response.json
    assert [line.get("suggested_lots") for line in response.json["data"]["lines"]] == [
        None,
        "L1 (2031-06-30) × 3; 缺货 / short 1",  # 10 of L1, 7 scanned; RC recalled
    ]
    # every line named (as an order's allocation names them all): nothing to suggest
    lines[1]["lot"] = "L1"
    save_lines(picker, out, lines)
    refused = picker.post(f"{TO}/{out}/transitions/suggest_lots", json={})
    assert refused.status_code == 409
    assert refused.json["error"].endswith("every line names its lot already.")
    assert 'data-transition="suggest_lots"' not in picker.get(f"/forms/transfer_out/{out}").text


def test_what_the_transfer_itself_holds_is_not_taken_twice(db, as_user, chain):
    """An order's allocation reserves the lots it names on its transfer out: those count once,
    as the named line's, and the rest of the lot is offered to the open line."""
    out = requested(db, as_user, chain, [("strip", "10")])
    hold_l1(db, chain, Decimal(6))
    picker = as_user("whclerk")
    save_lines(picker, out, [{"item": chain["strip"], "lot": "L1", "quantity": "6"},
                             {"item": chain["strip"], "quantity": "4"}])  # fmt: skip
    response = picker.post(f"{TO}/{out}/transitions/suggest_lots", json={})
    assert [line.get("suggested_lots") for line in response.json["data"]["lines"]] == [
        None,
        "L1 (2031-06-30) × 4",
    ]


def test_a_serial_device_leaves_picking_with_its_unit_named(db, as_user, chain):
    out = requested(db, as_user, chain, [("ecg", "1")])
    picker = as_user("whclerk")
    scan_lot(picker, out, "E1")
    unnamed = picker.post(f"{TO}/{out}/transitions/finish_picking", json={})
    assert unnamed.status_code == 422
    assert unnamed.json["errors"] == {"lines[0].serial": ["Scan this line's serial number"]}
    save_lines(picker, out, lambda lines: [{**lines[0], "serial": "SN2"}])
    assert picker.post(f"{TO}/{out}/transitions/finish_picking", json={}).status_code == 200


def test_a_draft_saved_before_lines_knew_their_tracking_is_held_to_it_once_filled(
    db, as_user, chain
):
    """A transfer out saved before its lines had ``tracking`` would leave picking with a lot
    tracked item's line naming no lot; migration 0031 queues the formula backfill, after which
    the picking rules hold it."""
    out = requested(db, as_user, chain, [("strip", "2")])
    with db.transaction() as session:
        record = session.get(Record, out)
        record.data = {
            **record.data,
            "lines": [
                {k: v for k, v in line.items() if k != "tracking"} for line in record.data["lines"]
            ],
        }
    with db.transaction() as session:
        jobs.enqueue(session, "formula_backfill", {"form": "transfer_out"})
    assert jobs.run_next(db).result == {"filled": {"transfer_out": 1}}
    picker = as_user("whclerk")
    unnamed = picker.post(f"{TO}/{out}/transitions/finish_picking", json={})
    assert unnamed.status_code == 422
    assert unnamed.json["errors"] == {"lines[0].lot": ["Scan or enter this line's lot"]}


def summary(client) -> dict:
    """The warehouse's 拣货汇总: item code → (transfers, to pick, free to ship, style)."""
    rows = client.get("/api/v1/reports/picking_summary").json["rows"]
    return {row["values"]["item_code"]: (row["values"]["transfers"], Decimal(row["values"][
        "quantity"]), Decimal(row["values"]["free"]), row["styles"].get("quantity"))
        for row in rows}  # fmt: skip


def test_the_picking_summary_adds_up_the_transfers_being_picked(db, as_user, chain):
    """Two stores' requests, item by item, against what the warehouse may ship: L1 10 and
    EARLY 3 of the strips — not OLD (expired), RC (recalled) nor LATE (held for an order)."""
    more_strips(db, chain)
    requested(db, as_user, chain, [("strip", "8"), ("ecg", "1")])
    second = requested(db, as_user, chain, [("strip", "6")], store="2")
    picker = as_user("whclerk")
    assert summary(picker) == {
        "ECG": (1, Decimal(1), Decimal(2), None),
        "STRIP": (2, Decimal(14), Decimal(13), "danger"),  # short of 1: red
    }
    # the second store's goods are picked: what is left to pick is the first store's
    strips = [{"item": chain["strip"], "lot": lot, "quantity": "3"} for lot in ("EARLY", "L1")]
    save_lines(picker, second, strips)
    done = picker.post(f"{TO}/{second}/transitions/finish_picking", json={})
    assert done.status_code == 200, done.json
    assert summary(picker)["STRIP"] == (1, Decimal(8), Decimal(13), None)
    # a store's clerk has no such report (a report one may not run is not found)
    assert as_user("clerk1").get("/api/v1/reports/picking_summary").status_code == 404


def test_a_later_lot_picked_while_an_earlier_one_is_free_needs_a_reason(db, as_user, chain):
    """近效期先出: EARLY (2030-03-31) has 3 free; L1 (2031-06-30) picked before it is used up is
    refused on the line's lot, whether at picking done or at a store's ship — until the earlier
    lot is taken or the line says why. OLD (expired), RC (recalled) and LATE (held for an
    order) are no earlier lot to take."""
    more_strips(db, chain)
    out = requested(db, as_user, chain, [("strip", "5")])
    picker = as_user("whclerk")
    before = stock(db)
    scan_lot(picker, out, "L1")
    refused = picker.post(f"{TO}/{out}/transitions/finish_picking", json={})
    assert refused.status_code == 409
    assert refused.json["field"] == "lines[0].lot"
    assert refused.json["error"] == (
        "Line 1: lot L1 of STRIP expires 2031-06-30, but lot EARLY (expires 2030-03-31) has 3 "
        "free here: pick the earlier lot first (earliest expiry first), or choose on the line "
        "why not."
    )
    # two of EARLY taken, one left: still passed over
    save_lines(picker, out, [{"item": chain["strip"], "lot": "EARLY", "quantity": "2"},
                             {"item": chain["strip"], "lot": "L1", "quantity": "3"}])  # fmt: skip
    short = picker.post(f"{TO}/{out}/transitions/finish_picking", json={})
    assert short.status_code == 409 and short.json["field"] == "lines[1].lot"
    assert "has 1 free here" in short.json["error"]
    assert stock(db) == before and records_of(db, "transfer_out")[0].state == "draft"
    # all of EARLY first, then L1: earliest expiry first
    save_lines(picker, out, [{"item": chain["strip"], "lot": "EARLY", "quantity": "3"},
                             {"item": chain["strip"], "lot": "L1", "quantity": "2"}])  # fmt: skip
    assert picker.post(f"{TO}/{out}/transitions/finish_picking", json={}).status_code == 200


def test_the_reason_on_the_line_lets_the_later_lot_leave_and_stays_on_record(db, as_user, chain):
    more_strips(db, chain)
    out = requested(db, as_user, chain, [("strip", "5")])
    picker = as_user("whclerk")
    save_lines(picker, out, [{"item": chain["strip"], "lot": "L1", "quantity": "5",
                              "fefo_reason": "packaging"}])  # fmt: skip
    bad = picker.put(f"{TO}/{out}", json={
        "lines": [{"item": chain["strip"], "lot": "L1", "quantity": "5", "fefo_reason": "whim"}],
        "version": picker.get(f"{TO}/{out}").json["version"]})  # fmt: skip
    assert bad.status_code == 422 and list(bad.json["errors"]) == ["lines[0].fefo_reason"]
    assert picker.post(f"{TO}/{out}/transitions/finish_picking", json={}).status_code == 200
    [record] = records_of(db, "transfer_out")
    assert [line["fefo_reason"] for line in record.data["lines"]] == ["packaging"]
    page = picker.get(f"/forms/transfer_out/{out}").text
    assert "Why not the earliest expiry" in page and "damaged" in page
    # the transfer note that goes with the goods says why, in the option's words
    note = picker.get(f"/forms/transfer_out/{out}/print").text
    assert "<th>Why not the earliest expiry</th>" in note
    assert "The earlier lot&#39;s packs are damaged" in note


def test_a_store_shipping_its_own_transfer_is_held_to_fefo_too(db, as_user, chain):
    """A store's transfer ships without a review: the ship itself refuses, and moves nothing."""
    with db.transaction() as session:
        strip, store = session.get(Item, chain["strip"]), session.get(Location, chain["S1"])
        lots = [get_or_create_lot(session, strip, number, expiry) for number, expiry in (
            ("S-OLDER", dt.date(2029, 1, 31)), ("S-NEWER", dt.date(2030, 1, 31)))]  # fmt: skip
        post_movements(session, [
            Movement(item=strip, quantity=Decimal(2), lot=lot, destination=store) for lot in lots
        ], reason=Reason.opening, document="S1-OPEN")  # fmt: skip
    clerk = as_user("clerk1")
    created = clerk.post(f"{TO}", json={"from_location": chain["S1"], "to_location": chain["S2"],
                                        "lines": [{"item": chain["strip"], "lot": "S-NEWER",
                                                   "quantity": "1"}]})  # fmt: skip
    assert created.status_code == 201, created.json
    before = stock(db)
    refused = clerk.post(f"{TO}/{created.json['id']}/transitions/ship", json={})
    assert refused.status_code == 409 and "S-OLDER" in refused.json["error"]
    assert stock(db) == before
    save_lines(clerk, created.json["id"], [{"item": chain["strip"], "lot": "S-OLDER",
                                            "quantity": "1"}])  # fmt: skip
    shipped = clerk.post(f"{TO}/{created.json['id']}/transitions/ship", json={})
    assert shipped.status_code == 200, shipped.json


def test_what_the_transfer_itself_holds_is_the_allocations_choice_not_the_pickers(
    db, as_user, chain
):
    """An order's allocation reserved L1 for this transfer (e.g. the customer wants a longer
    shelf life than EARLY has): the reserved quantity is not held to FEFO, what is picked of
    L1 beyond it is."""
    more_strips(db, chain)
    out = requested(db, as_user, chain, [("strip", "6")])
    hold_l1(db, chain, Decimal(6))
    picker = as_user("whclerk")
    scan_lot(picker, out, "L1")
    assert picker.post(f"{TO}/{out}/transitions/finish_picking", json={}).status_code == 200
    back = as_user("whsuper").post(f"{TO}/{out}/transitions/back_to_picking",
                                   json={"comment": "one more"})  # fmt: skip
    assert back.status_code == 200, back.json
    save_lines(picker, out, [{"item": chain["strip"], "lot": "L1", "quantity": "7"}])
    refused = picker.post(f"{TO}/{out}/transitions/finish_picking", json={})
    assert refused.status_code == 409 and "EARLY" in refused.json["error"]
