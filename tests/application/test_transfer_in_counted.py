"""A transfer in received while its destination is being counted: refused with the reason,
nothing booked, and the refusal names the transfer in's header field that holds the location
(``to_location``) — not a field of its lines, which have none by that name."""

from __future__ import annotations

from tests.application import transfers_fixtures as fixtures
from tests.application.test_transfers import TI, approved_transfer_out, fire
from tests.application.transfers_fixtures import ledger_count, records_of, review_and_ship, stock

chain, as_user = fixtures.chain, fixtures.as_user  # the fixtures this module uses

ST = "/api/v1/forms/stocktake/records"


def test_a_transfer_in_at_a_location_being_counted_names_its_location_field(db, as_user, chain):
    out = approved_transfer_out(db, as_user, chain)["out"]
    warehouse = as_user("whclerk")
    current = warehouse.get(f"/api/v1/forms/transfer_out/records/{out.id}").json
    lines = [{"item": chain["strip"], "lot": "L1", "quantity": "4"}]
    body = {"lines": lines, "version": current["version"]}
    saved = warehouse.put(f"/api/v1/forms/transfer_out/records/{out.id}", json=body)
    assert saved.status_code == 200, saved.json
    shipped = review_and_ship(as_user("whsuper"), out.id)
    assert shipped.status_code == 200, shipped.json
    [incoming] = records_of(db, "transfer_in")
    # S1's manager starts counting the store: it takes no stock until the count ends
    manager = as_user("manager1")
    count = manager.post(ST, json={"location": chain["S1"], "blind": True})
    assert count.status_code == 201, count.json
    opened = fire(manager, ST, count.json["id"], "open")
    assert opened.status_code == 200, opened.json
    before = (stock(db), ledger_count(db))

    store = as_user("clerk1")
    current = store.get(f"{TI}/{incoming.id}").json
    lines = [{**current["data"]["lines"][0], "received": "4"}]
    saved = store.put(f"{TI}/{incoming.id}", json={"lines": lines, "version": current["version"]})
    assert saved.status_code == 200, saved.json
    refused = fire(store, TI, incoming.id, "receive")
    assert refused.status_code == 409, refused.json
    assert "being counted since" in refused.json["error"]
    assert refused.json["field"] == "to_location"
    assert (stock(db), ledger_count(db)) == before
