"""A store's recall task saved through its edit page, as the browser posts it: the boxes the
system sets (须通知客户, 已完成, 盘点中) are shown, not tickable, and a page that still posts one
back as it reads ("1" for yes, "" or "0" for no) is not changing it; ticking one is refused by
name, nothing saved."""

from __future__ import annotations

import html as markup
import json
import re

from app.meta.models import Record
from tests.application import conftest as application
from tests.application import sales_fixtures
from tests.application.clock import TODAY
from tests.application.test_recall import RC, SIGNED, new_recall, sold_and_held
from tests.application.test_sales import fire
from tests.web.test_forms_pages_rights import _Inputs

shop = sales_fixtures.shop  # the fixtures this module uses
one_business_moment = application.one_business_moment

SET_BY_THE_SYSTEM = ("customers", "done", "counting")


class _BrowserInputs(_Inputs):
    """As ``_Inputs``, less the disabled inputs: a browser never sends those."""

    def handle_starttag(self, tag, attrs):
        if tag == "input" and "disabled" in dict(attrs):
            return
        super().handle_starttag(tag, attrs)


def browser_sends(html: str) -> dict[str, str]:
    parser = _BrowserInputs()
    parser.feed(html)
    return dict(parser.sent)


def issued_task(shop) -> int:
    """S1 sold the recalled lot A2 to a clinic: its task says it must tell its customers."""
    sold_and_held(shop)
    qa = shop.api("qa")
    data = fire(qa, RC, new_recall(qa, shop, lots="A2"), "issue", **SIGNED).json["data"]
    return data["tasks"][0]["task"]


def told(on=TODAY) -> dict:
    return {"customers_notified": str(on), "notification": "电话通知 C-1 王医生：停止使用"}


def test_the_boxes_the_system_sets_are_shown_but_not_tickable(shop, db):
    task = issued_task(shop)
    html = shop.api("manager").get(f"/forms/recall_task/{task}/edit").text
    for name in SET_BY_THE_SYSTEM:
        box = re.search(rf'<input type="checkbox"[^>]*id="f-{name}"[^>]*>', html).group(0)
        assert " disabled" in box, name
    assert re.search(r'id="f-customers"[^>]* checked', html)  # it still says yes
    assert "customers" not in browser_sends(html)


def test_the_manager_saves_the_notification_through_the_page(shop, db):
    manager = shop.api("manager")
    task = issued_task(shop)
    edit = f"/forms/recall_task/{task}/edit"
    sent = browser_sends(manager.get(edit).text)
    # the live recompute, without the box, still shows the fields it opens
    shown = manager.form("/forms/recall_task/evaluate", sent).text
    visible = json.loads(markup.unescape(re.search(r'data-visible="([^"]*)"', shown).group(1)))
    assert visible["customers_notified"] is True and visible["notification"] is True
    saved = manager.form(edit, {**sent, **told()})
    assert saved.status_code == 302, saved.text
    assert "Saved." in manager.get(saved.headers["Location"]).text
    with db.session() as session:
        data = session.get(Record, task).data
    assert data["customers_notified"] == str(TODAY) and data["customers"] is True


def test_a_page_posting_the_system_boxes_back_as_read_saves(shop, db):
    """A page opened before the boxes were disabled posts them: 须通知客户 ticked ("1", "on",
    "true"), 已完成 and 盘点中 unticked ("", "0", "false") say what the task holds."""
    manager = shop.api("manager")
    task = issued_task(shop)
    edit = f"/forms/recall_task/{task}/edit"
    for yes, no in (("1", ""), ("on", "0"), ("true", "false")):
        sent = browser_sends(manager.get(edit).text)
        as_read = {"customers": yes, "done": no, "counting": no}
        saved = manager.form(edit, {**sent, **told(), **as_read})
        assert saved.status_code == 302, (yes, no, saved.text)


def test_ticking_a_box_the_system_sets_is_refused_by_name(shop, db):
    manager = shop.api("manager")
    task = issued_task(shop)
    edit = f"/forms/recall_task/{task}/edit"
    sent = browser_sends(manager.get(edit).text)
    refused = manager.form(edit, {**sent, **told(), "customers": "1", "done": "1"})
    assert refused.status_code == 422
    errors = re.findall(r'data-error-for="(\w+)">([^<]*)<', refused.text)
    assert errors == [("done", "Filled in by the system: it cannot be changed here.")]
    with db.session() as session:
        data = session.get(Record, task).data
    assert data["done"] is False and not data.get("customers_notified")
