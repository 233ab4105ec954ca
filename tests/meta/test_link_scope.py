"""``link_scope: all`` on a location link: a store names the warehouse it asks goods from (any
store or warehouse), while its own location field stays limited to its data scope; the picker
offers them only for such a field. And read-only line fields keep their stored value on update."""

from __future__ import annotations

from decimal import Decimal

from app.kernel.users import User
from app.meta import records
from tests.application import transfers_fixtures as fixtures

chain, as_user = fixtures.chain, fixtures.as_user  # the fixtures this module uses

TQ = "/api/v1/forms/transfer_request/records"


def _body(chain, **changes) -> dict:
    body = {"to_location": chain["S1"], "from_location": chain["S9"],
            "lines": [{"item": chain["strip"], "quantity": "1", "unit_price": "2"}]}  # fmt: skip
    return {**body, **changes}


def test_a_counterpart_may_be_outside_the_scope_but_the_own_location_may_not(as_user, chain):
    clerk = as_user("clerk1")
    created = clerk.post(TQ, json=_body(chain))
    assert created.status_code == 201, created.json  # S9 is in another region
    refused = clerk.post(TQ, json=_body(chain, to_location=chain["S9"], from_location=chain["S1"]))
    assert refused.status_code == 422
    assert list(refused.json["errors"]) == ["to_location"]
    # the record page names the counterpart instead of showing an id
    assert "S9 北京店" in clerk.get(f"/forms/transfer_request/{created.json['id']}").text


def test_an_unknown_location_is_still_refused(as_user, chain):
    refused = as_user("clerk1").post(TQ, json=_body(chain, from_location=999999))
    assert refused.status_code == 422
    assert "from_location" in refused.json["errors"]


def test_the_picker_offers_other_locations_only_for_a_counterpart_field(as_user, chain):
    clerk = as_user("clerk1")

    def codes(query: str) -> set[str]:
        answer = clerk.get(f"/api/v1/lookup/location?q={query}")
        assert answer.status_code == 200
        return {row["code"] for row in answer.json["results"]}

    assert codes("") == {"S1"}
    assert codes("&form=transfer_request&field=to_location") == {"S1"}
    everywhere = codes("&form=transfer_request&field=from_location")
    assert everywhere == {"WH1", "S1", "S2", "S9"}  # stores and warehouses, not HQ or regions
    assert codes("&form=no_such_form&field=from_location") == {"S1"}


def test_read_only_line_fields_keep_their_value_when_lines_are_edited(app, db, as_user, chain):
    """The transfer in's shipped quantity is set when it is created and cannot be changed."""
    record = _transfer_in(app, db, chain)
    clerk = as_user("clerk1")
    current = clerk.get(f"/api/v1/forms/transfer_in/records/{record}").json
    line = {**current["data"]["lines"][0], "shipped": "99", "received": "1"}
    answer = clerk.put(f"/api/v1/forms/transfer_in/records/{record}",
                       json={"lines": [line], "version": current["version"]})  # fmt: skip
    assert answer.status_code == 200, answer.json
    [saved] = answer.json["data"]["lines"]
    assert Decimal(str(saved["shipped"])) == 3 and Decimal(str(saved["received"])) == 1
    assert Decimal(str(saved["short"])) == 2


def _transfer_in(app, db, chain) -> int:
    """A transfer in created as shipping creates it (by the record service, as the warehouse)."""
    with app.test_request_context(), db.transaction() as session:
        created = records.create(
            session, app.extensions["lianku.registry"], session.get(User, chain["whclerk"]),
            "transfer_in",
            {"to_location": chain["S1"], "from_location": chain["WH1"], "transfer_number": "TO-X",
             "lines": [{"item": chain["strip"], "lot": "L1", "shipped": "3"}]},
            by_action=True,
        )  # fmt: skip
        return created.id


def test_find_takes_what_people_write_within_the_scope(db, chain):
    """An imported cell names a link by code, by a list's label or by name; a name two rows
    share is ambiguous; a counterpart field looks everywhere, an own-location field does not."""
    from app.kernel.items import Item, add_item
    from app.meta import links

    with db.transaction() as session:
        clerk = session.query(User).filter_by(username="clerk1").one()
        add_item(session, "TWIN-1", "同名商品", tracking="none")
        add_item(session, "TWIN-2", "同名商品", tracking="none")
        strip = session.get(Item, chain["strip"])
        assert [c.value for c in links.find(session, clerk, "item", strip.code)] == [strip.id]
        assert len(links.find(session, clerk, "item", "同名商品")) == 2
        assert [c.value for c in links.find(session, clerk, "location", "S1 一号店")] == [
            chain["S1"]
        ]
        assert links.find(session, clerk, "location", "S9") == []  # not where the clerk works
        found = links.find(session, clerk, "location", "S9", everywhere=True)
        assert [c.value for c in found] == [chain["S9"]]
