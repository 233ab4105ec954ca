"""A sales order learns when its allocation fails after the fact, through the API and at the
action level, on the chain of ``tests/allocation_chain.py`` (stock and distances there).

Hand-worked plans (the shipped retail rules: own stock, nearest single location, split; stores
and warehouses within 200 km; expired lot X never counted):

- 8 strips at SH01: SH01 has 5 (< 8), the nearest location with 8 is SZ01 (84.8 km; WH-SH has
  only 6): a transfer out from SZ01 of C × 8.
- Its transfer cancelled, then SZ01's own order holding 5 of its 10: re-allocating 8 finds no
  single location within 200 km with 8 free (SH01 5, WH-SH 6, SZ01 5, HZ01 4; WH-NJ is 269.7 km
  away), so it splits nearest first: SH01 5 (A 2, B 3) + WH-SH 3 (B).
- Its transfer received 5 good, 1 damaged, 2 short: 3 short; the 2 arrive after all: 1 short
  (the damaged one); re-allocating 1 takes SH01's own stock, FEFO: A × 1.
- 3 pacemakers for a hospital (shipped directly): none at SH01, WH-SH 2 (25.5 km) + WH-NJ 1
  (269.7 km); WH-NJ's fulfilment order cancelled: 1 short; re-allocating finds WH-SH's 2 held by
  its own fulfilment order and WH-NJ's unit free again: a new fulfilment order from WH-NJ.
"""

from __future__ import annotations

from sqlalchemy import select

from app.meta.models import Record
from app.workflow import engine
from app.workflow.actions import ActionContext, installed_actions
from app.workflow.models import InboxMessage
from tests.allocation_chain import STRIP_GTIN
from tests.application import allocation_fixtures
from tests.application.allocation_fixtures import SO, TI, TO, held, records
from tests.application.sales_fixtures import approved_customer, day, fire, paid, scan, scan_goods
from tests.application.story_fixtures import stock
from tests.application.transfers_fixtures import review_and_ship, scan_picks

chain = allocation_fixtures.chain  # the fixture, used by name


def confirmed(api, chain, quantity, at="SH01") -> dict:
    body = {"location": chain[at], "lines": [
        {"item": chain["STRIP"], "quantity": str(quantity), "unit_price": "10"}]}  # fmt: skip
    created = api.post(SO, json=body)
    assert created.status_code == 201, created.json
    response = fire(api, SO, created.json, "confirm")
    assert response.status_code == 200, response.json
    return response.json


def rows(record: dict) -> list[tuple]:
    """The order's ``fulfilments`` as (location id, mode, quantity, received, shortfall)."""
    return [(row["location"], row["mode"], row["quantity"], row["received"], row.get("shortfall"))
            for row in record["data"]["fulfilments"]]  # fmt: skip


def inbox(db, user_id: int) -> list[str]:
    """The user's inbox messages about sales orders (a shipment's news of its transfer in aside)."""
    with db.session() as session:
        return list(session.scalars(select(InboxMessage.message)
                                    .join(Record, Record.id == InboxMessage.record_id)
                                    .where(InboxMessage.user_id == user_id,
                                           Record.form == "sales_order")
                                    .order_by(InboxMessage.id)))  # fmt: skip


def test_a_cancelled_transfer_leaves_a_shortfall_that_reallocate_fills_by_the_rules(chain, db):
    clerk, buyer = chain.api("clerk"), chain.api("buyer")
    record = confirmed(clerk, chain, 8)
    number = record["number"]
    (transfer,) = records(db, "transfer_out")
    assert rows(record) == [(chain["SZ01"], "transfer", "8", "0", None)]

    # the picker at SZ01 finds the cartons crushed: the transfer is cancelled
    response = buyer.post(f"{TO}/{transfer.id}/transitions/cancel", json={"comment": "外箱压坏"})
    assert response.status_code == 200, response.json
    record = clerk.get(f"{SO}/{record['id']}").json
    assert record["state"] == "confirmed"
    assert rows(record) == [(chain["SZ01"], "transfer", "8", "0", "8")]
    note = record["data"]["fulfilments"][0]["note"]
    assert f"transfer {transfer.number} cancelled: 外箱压坏" in note
    assert record["data"]["lines"][0]["unallocated"] == "8"
    assert transfer.number not in {document for document, *_rest in held(db)}
    (message,) = inbox(db, chain["clerk"])
    why = f"调拨单 {transfer.number} 已取消：外箱压坏"
    assert message == f"{number}: 第 1 行缺口 8，请重新分配（{why}）"  # in the clerk's language

    # the delivery waits for the re-allocation, saying which line and how much
    paid(clerk, record["id"])
    refused = fire(clerk, SO, record, "deliver")
    assert refused.status_code == 409
    assert refused.json["error"].startswith("Line 1: 8 units still to re-allocate (")
    assert refused.json["field"] == "fulfilments"

    # SZ01 sells 5 of its own meanwhile (its order holds them): 5 left there
    confirmed(chain.api("sz_clerk"), chain, 5, at="SZ01")
    response = fire(clerk, SO, record, "reallocate")
    assert response.status_code == 200, response.json
    record = response.json
    assert record["state"] == "confirmed"
    (old, new) = records(db, "transfer_out")
    assert (old.state, new.state, new.location_id) == ("cancelled", "draft", chain["WH-SH"])
    assert rows(record) == [
        (chain["SZ01"], "transfer", "0", "0", None),  # what it still brings: nothing
        (chain["SH01"], "own", "5", None, None),
        (chain["WH-SH"], "transfer", "3", "0", None),
    ]
    assert [row["rule"] for row in record["data"]["fulfilments"]] == ["nearest", "split", "split"]
    assert "8 re-allocated" in record["data"]["fulfilments"][0]["note"]
    line = record["data"]["lines"][0]
    assert line["unallocated"] is None
    assert line["allocation"] == f"A ({day(100)}) × 2; B ({day(200)}) × 3"
    assert "re-allocated: " in line["allocation_reason"]
    assert (number, 1, "SH01", "A", "2") in held(db) and (new.number, 1, "WH-SH", "B", "3") in held(
        db
    )
    again = fire(clerk, SO, record, "reallocate")  # nothing left to re-allocate
    assert again.status_code == 409

    # the cancelled transfer no longer counts; the new one must arrive first
    refused = fire(clerk, SO, record, "deliver")
    assert (
        refused.status_code == 409
        and f"{new.number} for this order has not been shipped" in (refused.json["error"])
    )
    scan_picks(chain.api("wh_clerk"), new.id, [scan(STRIP_GTIN, "B", day(200))])
    assert review_and_ship(chain.api("wh_supervisor"), new.id).status_code == 200
    (incoming,) = records(db, "transfer_in")
    assert clerk.post(f"{TI}/{incoming.id}/transitions/receive", json={}).status_code == 200
    scan_goods(clerk, record["id"], [
        {"scan": scan(STRIP_GTIN, "A", day(100)), "quantity": "2"},
        {"scan": scan(STRIP_GTIN, "B", day(200)), "quantity": "6"},
    ])  # fmt: skip
    response = fire(clerk, SO, record, "deliver")
    assert response.status_code == 200, response.json
    assert ("SH01", "STRIP", "B", "available") not in stock(db)
    assert [hold for hold in held(db) if hold[0] in (number, new.number)] == []


def test_a_short_and_damaged_receipt_is_reported_the_rest_arriving_shrinks_it(chain, db):
    clerk, sz_clerk = chain.api("clerk"), chain.api("sz_clerk")
    record = confirmed(clerk, chain, 8)
    (transfer,) = records(db, "transfer_out")
    assert sz_clerk.post(f"{TO}/{transfer.id}/transitions/ship", json={}).status_code == 200
    assert inbox(db, chain["clerk"]) == []  # shipped in full: nothing to say
    (incoming,) = records(db, "transfer_in")
    current = clerk.get(f"{TI}/{incoming.id}").json
    lines = [{**current["data"]["lines"][0], "received": "5", "damaged": "1"}]
    response = clerk.put(f"{TI}/{incoming.id}", json={"lines": lines,
                                                      "version": current["version"]})  # fmt: skip
    assert response.status_code == 200, response.json
    assert fire(clerk, TI, current, "receive_partial").status_code == 200

    record = clerk.get(f"{SO}/{record['id']}").json
    assert rows(record) == [(chain["SZ01"], "transfer", "8", "5", "3")]
    assert record["data"]["lines"][0]["unallocated"] == "3"
    assert (
        "5 received, 2 short, 1 damaged, 5 held for this order"
        in (record["data"]["fulfilments"][0]["note"])
    )
    (message,) = inbox(db, chain["clerk"])
    assert "第 1 行缺口 3" in message
    paid(clerk, record["id"])
    refused = fire(clerk, SO, record, "deliver")
    assert (
        refused.status_code == 409
        and "Line 1: 3 units still to re-allocate" in (refused.json["error"])
    )

    # the 2 missing turn up after all: held for the order, the shortfall shrinks to the damaged 1
    assert fire(clerk, TI, current, "receive_rest").status_code == 200
    record = clerk.get(f"{SO}/{record['id']}").json
    assert rows(record) == [(chain["SZ01"], "transfer", "8", "7", "1")]
    assert record["data"]["lines"][0]["unallocated"] == "1"
    assert len(inbox(db, chain["clerk"])) == 1  # shrinking is no news

    response = fire(clerk, SO, record, "reallocate")
    assert response.status_code == 200, response.json
    record = response.json
    assert rows(record) == [
        (chain["SZ01"], "transfer", "7", "7", None),
        (chain["SH01"], "own", "1", None, None),
    ]
    assert record["data"]["lines"][0]["allocation"] == (
        f"C ({day(400)}) × 5; C ({day(400)}) × 2; A ({day(100)}) × 1"
    )
    scan_goods(clerk, record["id"], [
        {"scan": scan(STRIP_GTIN, "C", day(400)), "quantity": "7"},
        {"scan": scan(STRIP_GTIN, "A", day(100)), "quantity": "1"},
    ])  # fmt: skip
    response = fire(clerk, SO, record, "deliver")
    assert response.status_code == 200, response.json


def test_the_orders_own_cancel_reports_nothing(chain, db):
    clerk, manager = chain.api("clerk"), chain.api("manager")
    record = confirmed(clerk, chain, 20)  # split: own 5 + WH-SH 6 + SZ01 9
    response = fire(manager, SO, record, "cancel", comment="客户取消")
    assert response.status_code == 200, response.json
    assert response.json["data"]["fulfilments"] == []
    assert [transfer.state for transfer in records(db, "transfer_out")] == ["cancelled"] * 2
    assert inbox(db, chain["clerk"]) == []
    assert fire(clerk, SO, record, "reallocate").status_code == 409  # not confirmed


def run_report(db, app, transfer_number: str, counts: str, comment="-") -> None:
    """``report_to_order`` run by itself on a transfer out, as the engine would."""
    registry = app.extensions["lianku.registry"]
    with db.transaction() as session:
        record = session.scalar(select(Record).where(Record.number == transfer_number))
        context = ActionContext(
            session=session, record=record, user=None, transition="cancel", comment=comment,
            params={"order": "sales_order", "counts": counts},
            records=engine.RecordsInterface(session, registry, None),
        )  # fmt: skip
        installed_actions().get("report_to_order").run(context)


def test_the_action_is_idempotent_and_counts_what_is_coming(chain, db, app):
    clerk = chain.api("clerk")
    record = confirmed(clerk, chain, 8)
    (transfer,) = records(db, "transfer_out")
    run_report(db, app, transfer.number, "shipped")  # not shipped yet: nothing shipped at all
    record = clerk.get(f"{SO}/{record['id']}").json
    assert rows(record) == [(chain["SZ01"], "transfer", "8", "0", "8")]
    assert "shipped only 0" in record["data"]["fulfilments"][0]["note"]
    run_report(db, app, transfer.number, "shipped")
    run_report(db, app, transfer.number, "nothing", comment="again")
    record = clerk.get(f"{SO}/{record['id']}").json
    assert rows(record) == [(chain["SZ01"], "transfer", "8", "0", "8")]
    assert record["data"]["lines"][0]["unallocated"] == "8"
    assert len(inbox(db, chain["clerk"])) == 1  # one shortfall, one message


def test_old_orders_without_the_new_fields_still_save_their_scans(chain, db):
    clerk = chain.api("clerk")
    record = confirmed(clerk, chain, 2)  # own stock
    with db.transaction() as session:  # as saved before the fields existed
        stored = session.get(Record, record["id"])
        data = dict(stored.data)
        data["lines"] = [{k: v for k, v in line.items() if k != "unallocated"}
                         for line in data["lines"]]  # fmt: skip
        data["fulfilments"] = [{k: v for k, v in row.items() if k not in ("shortfall", "note")}
                               for row in data["fulfilments"]]  # fmt: skip
        stored.data = data
    saved = scan_goods(clerk, record["id"], [{"scan": scan(STRIP_GTIN, "A", day(100)),
                                              "quantity": "2"}])  # fmt: skip
    assert saved["data"]["deliveries"][0]["lot"] == "A"
    assert fire(clerk, SO, saved, "deliver").status_code == 200


def test_the_record_page_shows_the_shortfall_and_offers_to_reallocate(chain, db):
    clerk, buyer = chain.api("clerk"), chain.api("buyer")
    record = confirmed(clerk, chain, 8)
    (transfer,) = records(db, "transfer_out")
    response = buyer.post(f"{TO}/{transfer.id}/transitions/cancel", json={"comment": "缺货"})
    assert response.status_code == 200, response.json
    page = clerk.client.get(f"/forms/sales_order/{record['id']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for label in ("Shortfall", "To re-allocate", "Note", "Re-allocate"):
        assert label in html, label
    assert f"transfer {transfer.number} cancelled: 缺货" in html


def test_a_transfer_shipped_short_reports_what_it_left_behind(chain, db):
    clerk, sz_clerk = chain.api("clerk"), chain.api("sz_clerk")
    record = confirmed(clerk, chain, 8)
    (transfer,) = records(db, "transfer_out")
    # the picker at SZ01 finds only 6 good cartons and ships those
    current = sz_clerk.get(f"{TO}/{transfer.id}").json
    lines = [{**current["data"]["lines"][0], "quantity": "6"}]
    response = sz_clerk.put(f"{TO}/{transfer.id}", json={"lines": lines,
                                                        "version": current["version"]})  # fmt: skip
    assert response.status_code == 200, response.json
    assert sz_clerk.post(f"{TO}/{transfer.id}/transitions/ship", json={}).status_code == 200
    record = clerk.get(f"{SO}/{record['id']}").json
    assert rows(record) == [(chain["SZ01"], "transfer", "8", "0", "2")]
    assert f"transfer {transfer.number} shipped only 6" in record["data"]["fulfilments"][0]["note"]
    assert record["data"]["lines"][0]["unallocated"] == "2"
    # the 6 arrive in full: held; the shortfall stays 2, no second message
    (incoming,) = records(db, "transfer_in")
    assert clerk.post(f"{TI}/{incoming.id}/transitions/receive", json={}).status_code == 200
    record = clerk.get(f"{SO}/{record['id']}").json
    assert rows(record) == [(chain["SZ01"], "transfer", "8", "6", "2")]
    assert len(inbox(db, chain["clerk"])) == 1
    # re-allocating 2: SH01's own stock, FEFO (A × 2)
    response = fire(clerk, SO, record, "reallocate")
    assert response.status_code == 200, response.json
    assert rows(response.json) == [
        (chain["SZ01"], "transfer", "6", "6", None),
        (chain["SH01"], "own", "2", None, None),
    ]


def test_a_shortfall_typed_in_before_confirmation_does_not_survive_it(chain, db):
    clerk = chain.api("clerk")
    line = {"item": chain["STRIP"], "quantity": "2", "unit_price": "10", "unallocated": "2"}
    body = {"location": chain["SH01"], "lines": [line]}
    created = clerk.post(SO, json=body)
    assert created.status_code == 201, created.json
    response = fire(clerk, SO, created.json, "confirm")
    assert response.status_code == 200, response.json
    assert response.json["data"]["lines"][0]["unallocated"] is None
    assert fire(clerk, SO, response.json, "reallocate").status_code == 409


def test_a_cancelled_fulfilment_order_leaves_a_shortfall_on_the_order_it_ships_for(chain, db):
    clerk = chain.api("clerk")
    hospital = approved_customer(chain, "H-1", kind="hospital", licence_number="沪械经营2020001",
                                 licence_expiry=str(day(300)))  # fmt: skip
    created = clerk.post(SO, json={"location": chain["SH01"], "customer": hospital, "lines": [
        {"item": chain["PACE"], "quantity": "3", "unit_price": "10"}]})  # fmt: skip
    record = fire(clerk, SO, created.json, "confirm").json
    _parent, from_wh, from_nj = records(db, "sales_order")
    assert [(row["mode"], row["document"], row["quantity"])
            for row in record["data"]["fulfilments"]] == [
        ("direct", from_wh.number, "2"), ("direct", from_nj.number, "1")]  # fmt: skip

    # WH-NJ finds its unit's box damaged: HQ cancels that fulfilment order alone
    response = chain.api("buyer").post(f"{SO}/{from_nj.id}/transitions/cancel",
                                       json={"comment": "包装破损"})  # fmt: skip
    assert response.status_code == 200, response.json
    record = clerk.get(f"{SO}/{record['id']}").json
    assert record["state"] == "confirmed"
    assert [row.get("shortfall") for row in record["data"]["fulfilments"]] == [None, "1"]
    note = record["data"]["fulfilments"][1]["note"]
    assert f"fulfilment order {from_nj.number} cancelled: 包装破损" in note
    assert record["data"]["lines"][0]["unallocated"] == "1"
    (message,) = inbox(db, chain["clerk"])
    assert message.startswith(f"{record['number']}: 第 1 行缺口 1")
    # a hospital's order leaves by the manager's review (出库复核): nothing of the store's own to
    # pick, and the picking is not done while part of the order has nowhere to come from
    refused = fire(clerk, SO, record, "finish_picking")
    assert refused.status_code == 409 and refused.json["field"] == "fulfilments", refused.json

    # re-allocated, the order is picked again
    response = fire(clerk, SO, record, "reallocate")
    assert response.status_code == 200, response.json
    assert response.json["state"] == "confirmed"
    *_rest, again = records(db, "sales_order")
    assert (again.location_id, again.state) == (chain["WH-NJ"], "confirmed")
    assert again.data["parent_order"] == record["number"]
    assert [(row["document"], row["quantity"], row.get("shortfall"))
            for row in response.json["data"]["fulfilments"]] == [
        (from_wh.number, "2", None), (from_nj.number, "0", None),
        (again.number, "1", None)]  # fmt: skip
    assert response.json["data"]["lines"][0]["unallocated"] is None
