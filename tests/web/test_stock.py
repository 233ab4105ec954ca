"""The one-screen stock view through its page, its refresh fragment and its JSON API: two stores'
clerks see disjoint rows and HQ the union; goods on the road count at their destination; the
fragment the page polls shows a posting made since; an unknown item is not found."""

from __future__ import annotations

import re
from decimal import Decimal as D

import pytest

from app.kernel.items import Item, Lot
from app.kernel.locations import Location
from app.kernel.stock import Reason
from app.kernel.transfers import ShipLine, ship
from tests.application import transfers_fixtures as fixtures
from tests.application.transfers_fixtures import book
from tests.conftest import without_csrf_token

chain, as_user = fixtures.chain, fixtures.as_user  # the fixtures this module uses


@pytest.fixture
def stocked(db, chain):
    """S1 holds 3 of L1, S2 holds 4, WH1 (10 of L1, 5 recalled) ships 2 of L1 to S1."""
    book(db, chain, "S1", 3)
    book(db, chain, "S2", 4)
    with db.transaction() as session:
        wh1, s1 = session.get(Location, chain["WH1"]), session.get(Location, chain["S1"])
        lot = session.query(Lot).filter_by(lot_number="L1").one()
        ship(session, "TO-1", wh1, s1, [ShipLine(session.get(Item, chain["strip"]), D(2), lot)])
    return chain


def figures_of(client, item_id: int) -> dict:
    response = client.get(f"/api/v1/stock/items/{item_id}")
    assert response.status_code == 200, response.json
    return response.json


def rows(answer: dict) -> dict:
    return {
        row["location"]["code"]: (D(row["on_hand"]), D(row["available"]), D(row["in_transit"]))
        for row in answer["locations"]
    }


def test_clerks_see_disjoint_rows_and_hq_the_union(db, as_user, stocked):
    strip = stocked["strip"]
    first, second = figures_of(as_user("clerk1"), strip), figures_of(as_user("clerk2"), strip)
    # the clerk of S1 sees what is on the road to S1, never S2 nor the shipping warehouse
    assert rows(first) == {"S1": (D(3), D(3), D(2))}
    assert rows(second) == {"S2": (D(4), D(4), D(0))}
    whole = figures_of(as_user("hq"), strip)
    # WH1: 8 of L1 left and the recalled 5 (on hand, not available)
    assert rows(whole) == {**rows(first), **rows(second), "WH1": (D(13), D(8), D(0))}
    assert D(whole["totals"]["on_hand"]) == D(20) and D(whole["totals"]["in_transit"]) == D(2)
    # quantities are exact decimals as strings, written as the records write them
    assert (first["locations"][0]["on_hand"], first["locations"][0]["reserved"]) == ("3", "0")
    assert whole["totals"]["on_hand"] == "20"
    assert first["item"]["code"] == "STRIP" and first["item"]["near_expiry_days"] == 90
    assert first["locations"][0]["earliest_expiry"] == "2031-06-30"


def test_an_unknown_item_is_not_found(as_user, chain):
    clerk = as_user("clerk1")
    assert clerk.get("/api/v1/stock/items/999999").status_code == 404
    assert clerk.get("/stock/items/999999").status_code == 404


def _cell(page: str, location: str, figure: str) -> str:
    row = re.search(rf'<tr data-location="{location}">(.*?)</tr>', page, re.S).group(1)
    cell = re.search(rf'data-figure="{figure}">(.*?)</td>', row, re.S).group(1)
    return re.sub(r"<[^>]+>", "", cell).strip()


def test_the_page_polls_a_fragment_that_shows_a_posting(db, as_user, stocked):
    clerk, strip = as_user("clerk1"), stocked["strip"]
    assert clerk.get("/stock/items").status_code == 200  # the search page
    page = clerk.get(f"/stock/items/{strip}")
    assert page.status_code == 200
    fragment_url = f"/stock/items/{strip}/figures"
    assert f'hx-get="{fragment_url}"' in page.text and "every 5s" in page.text
    assert _cell(page.text, "S1", "on_hand") == "3" and "S2" not in without_csrf_token(page.text)
    before = clerk.get(fragment_url).text
    assert _cell(before, "S1", "on_hand") == "3" and _cell(before, "S1", "in_transit") == "2"

    book(db, stocked, "S1", 1, reason=Reason.sale, source=True)  # a sale at S1 meanwhile
    after = clerk.get(fragment_url).text
    assert _cell(after, "S1", "on_hand") == "2" and _cell(after, "S1", "available") == "2"
    assert _cell(after, "", "on_hand") == "2"  # the totals row
    assert "<html" not in after  # a fragment, not a page
