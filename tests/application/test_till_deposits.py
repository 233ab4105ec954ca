"""Cash deposits (缴款单) through the HTTP API: a store hands in what it took to the bank, finance
confirms it or sends it back with the reason; 现金缴存核对 sets each day's cash takings (cash sales
less cash refunds) beside what was deposited for them. Bad input is refused on its field."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal as D

import pytest

from app.kernel.items import business_today
from tests.application import sales_fixtures
from tests.application.sales_fixtures import CR, fire, strip_scan
from tests.application.test_accounts import finance_user
from tests.application.test_till import sold

shop = sales_fixtures.shop  # the fixture, used by name
DEPOSITS = "/api/v1/forms/till_deposit/records"


def deposits(api, **params) -> list[tuple]:
    """(store, day, cash takings, deposited, not deposited) of each store's day."""
    response = api.get("/api/v1/reports/till_deposits", query_string=params)
    assert response.status_code == 200, response.json
    return [
        (row["store"], row["day"], *(D(row[n]) if row[n] else None
                                     for n in ("takings", "deposited", "undeposited")))
        for line in response.json["rows"] if line["level"] == 0 for row in [line["values"]]
    ]  # fmt: skip


@pytest.fixture
def cashier(shop, db):
    finance_user(db, shop["HQ"])
    return shop.api("cashier")


def hand_in(api, shop, amount: str, **data) -> dict:
    created = api.post(DEPOSITS, json={"location": shop["S1"], "amount": amount,
                                       "bank_slip": "95588-0001", **data})  # fmt: skip
    assert created.status_code == 201, created.json
    submitted = fire(api, DEPOSITS, created.json, "submit")
    assert submitted.status_code == 200, submitted.json
    return submitted.json


def test_the_days_cash_is_set_beside_what_was_deposited_for_it(shop, cashier):
    sold(shop, "A", 2, "cash")  # 25.00 in cash
    sold(shop, "A2", 1, "wechat")  # not cash: never in the drawer
    refunded = sold(shop, "A", 1, "cash")
    clerk = shop.api("clerk")
    back = clerk.post(CR, json={"location": shop["S1"], "sales_order": refunded["id"],
                                "reason": "买多了", "lines": [strip_scan("A", 1)]})  # fmt: skip
    assert fire(clerk, CR, back.json, "receive").status_code == 200  # 12.50 back in cash
    today = business_today().isoformat()
    assert deposits(clerk) == [("一号店", today, D("25.00"), None, D("25.00"))]

    deposit = hand_in(clerk, shop, "20.00")
    assert deposit["state"] == "submitted" and deposit["number"].startswith("JK-S1-")
    assert deposits(clerk) == [("一号店", today, D("25.00"), D("20.00"), D("5.00"))]
    # finance sends it back: the slip says 25.00; it no longer counts until handed in again
    refused = fire(cashier, DEPOSITS, deposit, "send_back")
    assert refused.status_code == 422 and "comment" in refused.json["errors"]
    back_to_store = fire(cashier, DEPOSITS, deposit, "send_back", comment="回单金额为25元")
    assert back_to_store.status_code == 200 and back_to_store.json["state"] == "draft"
    assert deposits(clerk)[0][3:] == (None, D("25.00"))
    current = clerk.get(f"{DEPOSITS}/{deposit['id']}").json
    corrected = clerk.client.patch(
        f"{DEPOSITS}/{deposit['id']}",
        json={"amount": "25.00", "version": current["version"]},
        headers={"X-CSRFToken": clerk.token},
    )
    assert corrected.status_code == 200, corrected.json
    assert fire(clerk, DEPOSITS, corrected.json, "submit").status_code == 200
    confirmed = fire(cashier, DEPOSITS, corrected.json, "confirm")
    assert confirmed.status_code == 200 and confirmed.json["state"] == "confirmed"
    assert deposits(cashier, location=shop["S1"]) == [
        ("一号店", today, D("25.00"), D("25.00"), D("0.00"))
    ]
    # the store's and finance's home pages each carry a card of the cash not deposited: the
    # report's total of it (the figure a kpi card shows)
    for api in (clerk, cashier):
        home = api.get("/").text
        assert 'data-measure="undeposited"' in home and "/api/v1/reports/till_deposits" in home
    totals = cashier.get("/api/v1/reports/till_deposits").json["totals"]["values"]
    assert D(totals["undeposited"]) == 0


def test_only_finance_confirms_a_deposit(shop, cashier):
    clerk, manager = shop.api("clerk"), shop.api("manager")
    deposit = hand_in(clerk, shop, "10.00")
    assert fire(clerk, DEPOSITS, deposit, "confirm").status_code == 403
    assert fire(manager, DEPOSITS, deposit, "confirm").status_code == 403
    assert clerk.get(f"{DEPOSITS}/{deposit['id']}").json["state"] == "submitted"
    # nor does finance hand in a store's deposit
    draft = clerk.post(DEPOSITS, json={"location": shop["S1"], "amount": "1.00",
                                       "bank_slip": "95588-0002"})  # fmt: skip
    assert fire(cashier, DEPOSITS, draft.json, "submit").status_code == 403


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "-5.00"}, "amount"),
        ({"bank_slip": ""}, "bank_slip"),
        ({"takings_date": (business_today() + dt.timedelta(days=1)).isoformat()}, "takings_date"),
        ({"takings_date": business_today().isoformat(),
          "deposit_date": (business_today() - dt.timedelta(days=1)).isoformat()}, "deposit_date"),
    ],
)  # fmt: skip
def test_a_bad_deposit_is_refused_on_its_field(shop, db, data, field):
    clerk = shop.api("clerk")
    body = {"location": shop["S1"], "amount": "10.00", "bank_slip": "95588-0003"} | data
    refused = clerk.post(DEPOSITS, json=body)
    assert refused.status_code == 422
    assert field in refused.json["errors"], refused.json
    assert clerk.get(DEPOSITS).json["items"] == []  # nothing half-written
