"""A new document's location is the one store or warehouse its user works at
(``my_location()`` in the shipped forms' defaults): a clerk does not pick their own store on every
form; whoever sees more than one location (HQ, a region) picks it, and leaving it empty is
refused on the field."""

from __future__ import annotations

from tests.application import transfers_fixtures as fixtures

chain, as_user = fixtures.chain, fixtures.as_user  # the fixtures this module uses

ADJUSTMENTS = "/api/v1/forms/stock_adjustment/records"


def adjustment(chain, **fields) -> dict:
    return {"reason": "count_surplus", "explanation": "一盒在货架后面找到",
            "lines": [{"item": chain["strip"], "lot": "L1", "quantity": "1", "unit_cost": "1.50"}],
            **fields}  # fmt: skip


def test_a_clerks_document_is_at_their_store_unless_they_name_it(as_user, chain):
    clerk = as_user("clerk1")
    made = clerk.post(ADJUSTMENTS, json=adjustment(chain))
    assert made.status_code == 201, made.json
    assert made.json["location_id"] == chain["S1"] and made.json["data"]["location"] == chain["S1"]
    # the new form's page shows the store chosen already
    page = clerk.get("/forms/stock_adjustment/new").text
    assert f'<option value="{chain["S1"]}" selected>S1 一号店</option>' in page
    # a warehouse's clerk gets the warehouse
    kept = as_user("whclerk").post(ADJUSTMENTS, json=adjustment(chain))
    assert kept.status_code == 201 and kept.json["location_id"] == chain["WH1"]


def test_whoever_sees_more_than_one_location_names_it(as_user, chain):
    hq = as_user("hq")
    refused = hq.post(ADJUSTMENTS, json=adjustment(chain))
    assert refused.status_code == 422
    assert refused.json["errors"] == {"location": ["This field is required."]}
    named = hq.post(ADJUSTMENTS, json=adjustment(chain, location=chain["S2"]))
    assert named.status_code == 201, named.json
    assert named.json["location_id"] == chain["S2"]
