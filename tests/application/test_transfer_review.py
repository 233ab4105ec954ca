"""出库复核 of what leaves a warehouse, through the HTTP API: the warehouse clerk picks a store's
transfer, the supervisor scans the goods again, and they ship only when the two scans match —
each difference named, nothing moved. Whoever picked, or saved the review for the picker, is
refused. The review stays on the transfer, its print and the GSP record; the warehouse's
dashboard lists what waits to ship. A store's own transfer ships as before, unreviewed."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

from sqlalchemy import select

from app.kernel import jobs
from app.kernel.audit import AuditEntry
from app.kernel.items import business_timezone
from app.meta.models import Record
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


def picked(db, as_user, chain, picker="whclerk", lines=None, finish=True):
    """S1's request for 6 strips, approved by its manager; ``picker`` scans lot L1 (4 + 2) and,
    with ``finish``, says the picking is done."""
    clerk = as_user("clerk1")
    body = {"from_location": chain["WH1"], "to_location": chain["S1"],
            "lines": [{"item": chain["strip"], "quantity": "6", "unit_price": "10"}]}  # fmt: skip
    asked = clerk.post(TQ, json=body).json
    assert clerk.post(f"{TQ}/{asked['id']}/transitions/submit", json={}).status_code == 200
    approve(db, as_user("manager1"), chain["manager1"], asked["id"])
    [out] = records_of(db, "transfer_out")
    lines = lines or [{"item": chain["strip"], "lot": "L1", "quantity": "4"},
                      {"item": chain["strip"], "lot": "L1", "quantity": "2"}]  # fmt: skip
    client = as_user(picker)
    version = client.get(f"{TO}/{out.id}").json["version"]
    saved = client.put(f"{TO}/{out.id}", json={"lines": lines, "version": version})
    assert saved.status_code == 200, saved.json
    if finish:
        done = client.post(f"{TO}/{out.id}/transitions/finish_picking", json={})
        assert done.status_code == 200, done.json
    return out


def strips(lot: str, quantity: str) -> dict:
    return {"item": 0, "lot": lot, "quantity": quantity}  # item filled in by ``scans``


def scans(chain, *rows) -> list[dict]:
    return [{**row, "item": chain["strip"]} for row in rows]


def to_ship(client) -> list[tuple]:
    """The warehouse dashboard's 待发货调拨: (transfer its number opens, destination, lines)."""
    rows = client.get("/api/v1/reports/transfers_to_ship").json["rows"]
    return [(row["links"]["number"], row["values"]["destination"], row["values"]["lines"],
             D(row["values"]["quantity"])) for row in rows]  # fmt: skip


def test_the_supervisor_reviews_what_the_clerk_picked_and_ships_it(db, as_user, chain):
    out = picked(db, as_user, chain)
    supervisor = as_user("whsuper")
    assert to_ship(supervisor) == [(out.id, "一号店", 2, D(6))]
    # the clerk said the picking is done: the supervisor heard of it
    assert f"{out.number}: Picked, awaiting outbound review" in supervisor.get("/inbox").text
    page = supervisor.get(f"/forms/transfer_out/{out.id}").text  # the lines, less what is hidden
    assert "<th>Lot</th>" in page and "Left within range" not in page
    before = (stock(db), ledger_count(db))

    # one box short and a lot that was not picked: both named, nothing leaves
    short = review_and_ship(supervisor, out.id, scans(chain, strips("L1", "5"), strips("RC", "1")))
    assert short.status_code == 409
    assert short.json["error"].endswith(
        "The review does not match the goods picked: STRIP lot L1 picked 6, reviewed 5; "
        "STRIP lot RC picked 0, reviewed 1."
    )
    assert (stock(db), ledger_count(db)) == before
    assert records_of(db, "transfer_out")[0].data.get("reviewer") is None

    # scanned as one carton of six, the same goods pass
    shipped = review_and_ship(supervisor, out.id, scans(chain, strips("L1", "6")))
    assert shipped.status_code == 200, shipped.json
    assert shipped.json["state"] == "shipped"
    assert shipped.json["data"]["reviewer"] == chain["whsuper"]
    assert stock(db)[("WH1", "STRIP", "L1", "available")] == D(4)
    assert to_ship(supervisor) == []
    # the store hears its goods are on the way, on the transfer in it receives them by (the
    # transfer out is the warehouse's, not the store's to open)
    [incoming] = records_of(db, "transfer_in")
    inbox = as_user("clerk1").get("/inbox").text
    assert f"{incoming.number}: Shipped to you: receive it on arrival" in inbox
    assert f'href="/forms/transfer_in/{incoming.id}"' in inbox
    assert "Shipped to you" not in as_user("whclerk").get("/inbox").text

    note = supervisor.get(f"/forms/transfer_out/{out.id}/print").text  # 调拨单
    assert "Reviewer" in note and "whsuper 全名" in note
    # stamped in UTC, read on the shops' wall clock, on the note and the page alike
    reviewed = dt.datetime.fromisoformat(shipped.json["data"]["reviewed_at"])
    wall_clock = reviewed.astimezone(business_timezone()).strftime("%Y-%m-%d %H:%M:%S")
    assert reviewed.utcoffset() == dt.timedelta(0) and business_timezone().key == "Asia/Shanghai"
    assert wall_clock in note and wall_clock in supervisor.get(f"/forms/transfer_out/{out.id}").text
    period = f"{shipped.json['data']['ship_date']}..{shipped.json['data']['ship_date']}"
    # the one 出库复核记录 of what left for customers and for the chain's own stores
    rows = as_user("whclerk").get(f"/api/v1/reports/outbound_review?period={period}").json["rows"]
    assert [(r["number"], r["destination"], r["lot"], D(r["quantity"]), r["reviewer"])
            for r in (row["values"] for row in rows)] == [
        (out.number, "一号店", "L1", D(6), "whsuper 全名")]  # fmt: skip
    assert (rows[0]["record_form"], rows[0]["record_id"]) == ("transfer_out", out.id)
    book = as_user("whclerk").get(f"/reports/outbound_review?period={period}").text
    assert f'href="/forms/transfer_out/{out.id}" class="record-link">' in book


def test_the_stock_card_opens_each_rows_document_by_its_number(db, as_user, chain):
    """The ledger names documents by number: the stock card links each row's document to
    /forms/by-number/<number>, which opens the record as the user may see it: the warehouse its
    transfer out, the store the transfer in it receives that transfer by, another store
    nothing."""
    out = picked(db, as_user, chain)
    supervisor = as_user("whsuper")
    assert review_and_ship(supervisor, out.id, scans(chain, strips("L1", "6"))).status_code == 200
    [incoming] = records_of(db, "transfer_in")
    card = supervisor.get("/api/v1/reports/stock_card?item=STRIP&location=WH1").json["rows"]
    assert out.number in [row["links"].get("document") for row in card]
    page = supervisor.get("/reports/stock_card?item=STRIP&location=WH1").text
    assert f'href="/forms/by-number/{out.number}" class="record-link"' in page
    opened = supervisor.get(f"/forms/by-number/{out.number}")
    assert opened.status_code == 302
    assert opened.headers["Location"].endswith(f"/forms/transfer_out/{out.id}")
    # the store may not read the warehouse's transfer out: its number opens the transfer in
    store = as_user("clerk1")
    for number in (incoming.number, out.number):
        opened = store.get(f"/forms/by-number/{number}")
        assert opened.headers["Location"].endswith(f"/forms/transfer_in/{incoming.id}"), number
    assert as_user("clerk2").get(f"/forms/by-number/{out.number}").status_code == 404
    assert supervisor.get("/forms/by-number/OPENING").status_code == 404  # no such record


def test_the_transfer_out_an_approval_made_names_it_in_the_audit_trail(db, as_user, chain):
    """Made by the request's approval, it was not picked by the approver: its creation's audit
    entry names the request and the transition, and the approver may review it."""
    out = picked(db, as_user, chain)
    with db.session() as session:
        [created] = session.scalars(
            select(AuditEntry).where(
                AuditEntry.entity == "record",
                AuditEntry.entity_id == str(out.id),
                AuditEntry.action == "create",
            )
        ).all()
    [request] = records_of(db, "transfer_request")
    assert created.reason == f"transfer_request {request.number} → submit"  # approved in the end
    page = as_user("whsuper").get(f"/forms/transfer_out/{out.id}").text  # and its history says
    assert f"made by Transfer request {request.number} (Submit)" in page


def test_whoever_picked_does_not_review(db, as_user, chain):
    out = picked(db, as_user, chain, picker="whsuper")
    before = (stock(db), ledger_count(db))
    refused = review_and_ship(as_user("whsuper"), out.id)
    assert refused.status_code == 409
    assert refused.json["error"].endswith("You saved the picking scans: someone else reviews them.")
    assert (stock(db), ledger_count(db)) == before
    # another person may, scanning the goods again (the refused attempt left its scans)
    hq = as_user("hq")
    assert review_and_ship(hq, out.id).status_code == 409  # the picker's scans, unchanged
    cleared = review_and_ship(hq, out.id, [])
    assert cleared.json["error"].endswith("Scan the goods again to review them.")
    assert review_and_ship(hq, out.id).status_code == 200


def test_the_review_shows_once_the_picking_is_done(db, as_user, chain):
    """While the clerk picks, the transfer's pages have no review table (its ``visible_if``
    reads the state); once picked, the supervisor's have."""
    out = picked(db, as_user, chain, finish=False)
    clerk, supervisor = as_user("whclerk"), as_user("whsuper")
    review_table = '<fieldset class="mb-3" data-field="review_scans">'
    editing = clerk.get(f"/forms/transfer_out/{out.id}/edit").text
    assert 'data-field="review_scans"' in editing and review_table not in editing  # d-none
    assert "Review scans" not in clerk.get(f"/forms/transfer_out/{out.id}").text
    done = clerk.post(f"{TO}/{out.id}/transitions/finish_picking", json={})
    assert done.status_code == 200, done.json
    assert review_table in supervisor.get(f"/forms/transfer_out/{out.id}/edit").text
    saved = review_and_ship(supervisor, out.id, scans(chain, strips("L1", "6")))
    assert saved.status_code == 200, saved.json
    assert "Review scans" in supervisor.get(f"/forms/transfer_out/{out.id}").text


def test_a_picking_sent_back_tells_whoever_picked_it(db, as_user, chain):
    """The supervisor picked this one himself: he hears why it came back, the clerk does not."""
    out = picked(db, as_user, chain, picker="whsuper")
    hq = as_user("hq")
    version = hq.get(f"{TO}/{out.id}").json["version"]
    review = {"review_scans": scans(chain, strips("L1", "6")), "version": version}
    assert hq.put(f"{TO}/{out.id}", json=review).status_code == 200
    back = hq.post(f"{TO}/{out.id}/transitions/back_to_picking", json={"comment": "少一盒"})
    assert back.status_code == 200, back.json
    assert back.json["data"]["review_scans"] == []  # the next review scans the goods again
    said = f"{out.number}: Sent back to picking"
    assert said in as_user("whsuper").get("/inbox").text
    assert said not in as_user("whclerk").get("/inbox").text


def test_the_picker_does_not_scan_the_review_nor_change_what_was_picked(db, as_user, chain):
    out = picked(db, as_user, chain)
    clerk, supervisor = as_user("whclerk"), as_user("whsuper")
    current = clerk.get(f"{TO}/{out.id}").json
    assert current["state"] == "picked"
    fewer = [{**current["data"]["lines"][0], "quantity": "3"}]
    review = scans(chain, strips("L1", "6"))
    for change in ({"review_scans": review}, {"lines": fewer}):
        refused = clerk.put(f"{TO}/{out.id}", json={**change, "version": current["version"]})
        assert refused.status_code == 403 and refused.json["field"] in change
    # neither may the supervisor change the picking: a wrong one goes back to the picker
    refused = supervisor.put(f"{TO}/{out.id}", json={"lines": fewer, "version": current["version"]})
    assert refused.status_code == 403 and refused.json["field"] == "lines"
    assert review_and_ship(supervisor, out.id, review).status_code == 200


def test_a_stores_own_transfer_ships_unreviewed(db, as_user, chain):
    book(db, chain, "S1", 3)
    clerk = as_user("clerk1")
    body = {"from_location": chain["S1"], "to_location": chain["S2"],
            "lines": [{"item": chain["strip"], "lot": "L1", "quantity": "3"}]}  # fmt: skip
    out = clerk.post(TO, json=body)
    assert out.status_code == 201, out.json
    assert out.json["data"]["needs_review"] is False
    page = clerk.get(f"/forms/transfer_out/{out.json['id']}").text
    assert "Review scans" not in page and 'data-transition="review_ship"' not in page
    refused = clerk.post(f"{TO}/{out.json['id']}/transitions/review_ship", json={})
    assert refused.status_code in (403, 409)
    shipped = as_user("manager1").post(f"{TO}/{out.json['id']}/transitions/ship", json={})
    assert shipped.status_code == 200, shipped.json
    assert shipped.json["data"].get("reviewer") is None
    assert ("S1", "STRIP", "L1", "available") not in stock(db)


def test_a_warehouse_draft_saved_before_the_upgrade_is_reviewed_once_filled(db, as_user, chain):
    """A transfer out saved before the form had ``needs_review`` lacks it: unfilled, it would
    ship unreviewed and wait on no dashboard. Migration 0028 queues the formula backfill."""
    out = picked(db, as_user, chain)
    with db.transaction() as session:
        record = session.get(Record, out.id)
        record.data = {k: v for k, v in record.data.items() if k != "needs_review"}
    supervisor = as_user("whsuper")
    assert to_ship(supervisor) == []
    with db.transaction() as session:
        jobs.enqueue(session, "formula_backfill", {"form": "transfer_out"})
    assert jobs.run_next(db).result == {"filled": {"transfer_out": 1}}
    assert to_ship(supervisor) == [(out.id, "一号店", 2, D(6))]
    refused = as_user("whclerk").post(f"{TO}/{out.id}/transitions/ship", json={})
    assert refused.status_code == 409
    assert review_and_ship(supervisor, out.id).status_code == 200


def test_a_unit_picked_twice_is_refused_naming_the_line(db, as_user, chain):
    """Two ECG units asked for, one unit scanned twice by the picker: it is one device. Picking
    done names the repeat (the shipment's own check, nothing moved): the reviewer never gets it."""
    clerk = as_user("clerk1")
    body = {"from_location": chain["WH1"], "to_location": chain["S1"],
            "lines": [{"item": chain["ecg"], "quantity": "2", "unit_price": "3000"}]}  # fmt: skip
    asked = clerk.post(TQ, json=body).json
    assert clerk.post(f"{TQ}/{asked['id']}/transitions/submit", json={}).status_code == 200
    approve(db, as_user("manager1"), chain["manager1"], asked["id"])
    [out] = records_of(db, "transfer_out")
    unit = {"item": chain["ecg"], "lot": "E1", "serial": "SN1", "quantity": "1"}
    picker = as_user("whclerk")
    version = picker.get(f"{TO}/{out.id}").json["version"]
    saved = picker.put(f"{TO}/{out.id}", json={"lines": [unit, unit], "version": version})
    assert saved.status_code == 200, saved.json
    before = (stock(db), ledger_count(db))

    refused = picker.post(f"{TO}/{out.id}/transitions/finish_picking", json={})
    assert refused.status_code == 409, refused.json
    assert "SN1" in refused.json["error"]
    assert refused.json["field"] == "lines[1].serial"
    assert (stock(db), ledger_count(db)) == before
    assert picker.get(f"{TO}/{out.id}").json["state"] == "draft"
