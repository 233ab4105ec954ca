"""The audit trail page reads an entry's changes as the entry recorded them: a before → after
only where the action records a change (an update, a transition's state); a list that is the
value itself — the lots a recall blocked, the lines a posting moved — as a list, never as one lot
becoming the other."""

from __future__ import annotations

import html as markup
import re

from app.kernel.users import User, update_user
from app.meta import identity
from tests.application import conftest as application
from tests.application import sales_fixtures
from tests.application.test_recall import RC, SIGNED, new_recall
from tests.application.test_sales import fire

shop = sales_fixtures.shop  # the fixtures this module uses
one_business_moment = application.one_business_moment


def auditor(shop, db):
    with db.transaction() as session:
        identity.create_user(
            session, "auditor", "Auditor User", sales_fixtures.PASSWORD,
            roles=["auditor"], location_ids=[shop["HQ"]], locale="en",
        )  # fmt: skip
    return shop.api("auditor")


def trail(api, entity_id) -> str:
    """The text of the audit page's rows for ``entity_id``."""
    page = api.get(f"/audit?entity_id={entity_id}")
    assert page.status_code == 200
    return markup.unescape(re.sub(r"<[^>]+>", " ", page.text.split("<tbody>", 1)[1]))


def issued(qa, shop, lots: str) -> str:
    recall = new_recall(qa, shop, lots=lots)
    assert fire(qa, RC, recall, "issue", **SIGNED).status_code == 200
    return qa.get(f"{RC}/{recall['id']}").json["number"]


def test_a_recalls_lots_and_posted_lines_read_as_lists(shop, db):
    qa = shop.api("qa")
    two_lots, one_lot = issued(qa, shop, "A, B"), issued(qa, shop, "A2")
    api = auditor(shop, db)
    text = trail(api, two_lots)
    assert "lot.recalled" in text and "lots: A, B" in text
    assert "→" not in text  # no lot became the other, no posted line another
    # one lot set apart: its posting moved two lines (out of available, into nonconforming),
    # each in brackets, not the first line's fields becoming the second's
    text = trail(api, one_lot)
    assert "stock.posted" in text and "→" not in text
    [lines] = re.findall(r"lines: ((?:\[[^\]]*\](?:, )?)+)", text)
    assert lines.count("[") == 2 and "available" in lines and "nonconforming" in lines, lines


def test_a_change_still_reads_before_and_after(shop, db):
    """A transition's state and an update's fields (a user's locations, lists each side) are
    before → after."""
    qa = shop.api("qa")
    recall = new_recall(qa, shop, lots="A")
    assert fire(qa, RC, recall, "issue", **SIGNED).status_code == 200
    with db.transaction() as session:
        clerk = session.get(User, shop["clerk"])
        update_user(session, clerk, location_ids=[shop["S1"], shop["HQ"]])
    api = auditor(shop, db)
    record = api.get(f"/audit?entity=record&entity_id={recall['id']}&action=transition").text
    assert "state: draft → issued" in markup.unescape(record)
    user = api.get(f"/audit?entity=user&entity_id={shop['clerk']}&action=update").text
    assert "locations: S1 → HQ, S1" in markup.unescape(user)
