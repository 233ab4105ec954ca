"""A blind count shows its counters no book quantities — nor anywhere else while it runs: the
stock view and the stock reports hide the counted location from those who count, not from
those who review the count."""

from __future__ import annotations

from tests.application import transfers_fixtures as fixtures
from tests.application.test_stocktake import ST, fire, open_count

chain, as_user = fixtures.chain, fixtures.as_user  # the fixtures this module uses
WH1_NAME = "上海仓"


def stock_view(client, item: int) -> dict:
    answer = client.get(f"/api/v1/stock/items/{item}")
    assert answer.status_code == 200, answer.json
    return answer.json


def stock_view_codes(client, chain, item: str = "strip") -> set[str]:
    """The locations the stock view shows figures of ``item`` for."""
    rows = stock_view(client, chain[item])["locations"]
    return {row["location"]["code"] for row in rows if not row["figures_hidden"]}


def counted_blind(client, chain, item: str = "strip") -> dict[str, str]:
    """The locations the stock view lists without figures of ``item``: code → the reason."""
    rows = stock_view(client, chain[item])["locations"]
    hidden = {}
    for row in rows:
        if row["figures_hidden"]:
            assert row["on_hand"] is None and row["available"] is None  # no figure leaks
            hidden[row["location"]["code"]] = row["reason"]
    return hidden


def report_names(client) -> set[str]:
    """The locations the stock-on-hand report lists, by name (the report's column)."""
    answer = client.get("/api/v1/reports/stock_on_hand", query_string={"per_page": 100})
    assert answer.status_code == 200, answer.json
    return {row["values"]["location"] for row in answer.json["rows"]}


def test_the_stock_figures_of_a_blindly_counted_location_are_hidden_from_its_counters(
    db, as_user, chain
):
    clerk, boss = as_user("whclerk"), as_user("whsuper")
    assert "WH1" in stock_view_codes(clerk, chain) and WH1_NAME in report_names(clerk)
    stocktake = open_count(boss, chain)  # blind
    assert "WH1" not in stock_view_codes(clerk, chain)
    assert WH1_NAME not in report_names(clerk)
    # the stock view lists WH1 and says why it shows no figures, as the reports do: the clerk
    # does not tell a customer it is out of stock
    reason = (
        f"{WH1_NAME}: being counted blind, so its stock figures are left out until the count is "
        "reviewed."
    )
    assert counted_blind(clerk, chain) == {"WH1": reason}
    page = clerk.client.get(f"/stock/items/{chain['strip']}").text
    assert 'data-counted-blind="1"' in page and reason in page and 'id="stock-none"' not in page
    assert counted_blind(clerk, chain, "ecg") == {"WH1": reason}  # a count of every item
    # and the report page says why, rather than only "no rows"
    page = clerk.client.get("/reports/stock_on_hand").text
    assert f"{WH1_NAME}: being counted blind" in page
    assert 'id="counted-blind"' not in clerk.client.get("/reports/sales_today").text
    # the reviewer still sees them
    assert "WH1" in stock_view_codes(boss, chain) and WH1_NAME in report_names(boss)
    assert counted_blind(boss, chain) == {}
    assert 'id="counted-blind"' not in boss.client.get("/reports/stock_on_hand").text
    # aborted, the count shows them again
    response = fire(as_user("hq"), ST, stocktake["id"], "abort", comment="wrong day")
    assert response.status_code == 200, response.json
    assert "WH1" in stock_view_codes(clerk, chain) and WH1_NAME in report_names(clerk)
    assert counted_blind(clerk, chain) == {}


def test_a_blind_count_of_chosen_items_hides_only_those(db, as_user, chain):
    clerk, boss = as_user("whclerk"), as_user("whsuper")
    open_count(boss, chain, items=[{"item": chain["strip"]}])  # blind, of the strips only
    assert "WH1" not in stock_view_codes(clerk, chain)
    assert set(counted_blind(clerk, chain)) == {"WH1"}
    assert "WH1" in stock_view_codes(clerk, chain, "ecg")
    assert counted_blind(clerk, chain, "ecg") == {}
    page = clerk.client.get(f"/stock/items/{chain['ecg']}").text
    assert 'data-counted-blind="1"' not in page and '<tr data-location="WH1">' in page
    # another store's clerk sees neither WH1 nor that it is counted: it is not in their scope
    assert counted_blind(as_user("clerk2"), chain) == {}


def test_an_open_count_hides_nothing(db, as_user, chain):
    clerk, boss = as_user("whclerk"), as_user("whsuper")
    open_count(boss, chain, blind=False)
    assert "WH1" in stock_view_codes(clerk, chain) and WH1_NAME in report_names(clerk)
    assert counted_blind(clerk, chain) == {}
