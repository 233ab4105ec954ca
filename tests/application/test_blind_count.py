"""A blind count shows its counters no book quantities — nor anywhere else while it runs: the
stock view and the stock reports hide the counted location from those who count, not from
those who review the count."""

from __future__ import annotations

from tests.application import transfers_fixtures as fixtures
from tests.application.test_stocktake import ST, fire, open_count

chain, as_user = fixtures.chain, fixtures.as_user  # the fixtures this module uses
WH1_NAME = "上海仓"


def stock_view_codes(client, chain) -> set[str]:
    answer = client.get(f"/api/v1/stock/items/{chain['strip']}")
    assert answer.status_code == 200, answer.json
    return {row["location"]["code"] for row in answer.json["locations"]}


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
    # and the report page says why, rather than only "no rows"
    page = clerk.client.get("/reports/stock_on_hand").text
    assert f"{WH1_NAME}: being counted blind" in page
    assert 'id="counted-blind"' not in clerk.client.get("/reports/sales_today").text
    # the reviewer still sees them
    assert "WH1" in stock_view_codes(boss, chain) and WH1_NAME in report_names(boss)
    assert 'id="counted-blind"' not in boss.client.get("/reports/stock_on_hand").text
    # aborted, the count shows them again
    response = fire(as_user("hq"), ST, stocktake["id"], "abort", comment="wrong day")
    assert response.status_code == 200, response.json
    assert "WH1" in stock_view_codes(clerk, chain) and WH1_NAME in report_names(clerk)


def test_an_open_count_hides_nothing(db, as_user, chain):
    clerk, boss = as_user("whclerk"), as_user("whsuper")
    open_count(boss, chain, blind=False)
    assert "WH1" in stock_view_codes(clerk, chain) and WH1_NAME in report_names(clerk)
