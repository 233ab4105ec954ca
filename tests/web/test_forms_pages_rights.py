"""The generated new and edit pages of the shipped forms offer only what the user may fill: a
field the record's state keeps from them is text, not an input, and a save that still changes one
is refused naming it, never "Saved." with the change dropped; read-only tables have no add or
remove; a table's hidden columns are not on the line cards; a value the server refuses while
typing stays as typed, with its error."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from app.meta.models import Record
from tests.application import conftest as application
from tests.application import sales_fixtures
from tests.application.sales_fixtures import SO, hospital_order

shop = sales_fixtures.shop  # the fixtures this module uses
one_business_moment = application.one_business_moment


class _Inputs(HTMLParser):
    """What a browser sends when ``#record-form`` is submitted: named inputs, checked boxes,
    selected options, textareas (a file input sends nothing here)."""

    def __init__(self):
        super().__init__()
        self.sent: list[tuple[str, str]] = []
        self._in_form = self._in_template = False
        self._select = self._textarea = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form" and a.get("id") == "record-form":
            self._in_form = True
        if tag == "template":
            self._in_template = True
        if not self._in_form or self._in_template or "name" not in a and tag != "option":
            return
        if tag == "input" and a.get("type") not in ("checkbox", "file"):
            self.sent.append((a["name"], a.get("value") or ""))
        elif tag == "input" and a.get("type") == "checkbox" and "checked" in a:
            self.sent.append((a["name"], a.get("value") or "on"))
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select and "selected" in a:
            self.sent.append((self._select, a.get("value") or ""))
        elif tag == "textarea":
            self._textarea = a["name"]
            self.sent.append((a["name"], ""))

    def handle_data(self, data):
        if self._textarea:
            self.sent[-1] = (self._textarea, data)

    def handle_endtag(self, tag):
        if tag == "form":
            self._in_form = False
        elif tag == "template":
            self._in_template = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def sent_by(html: str) -> dict[str, str]:
    parser = _Inputs()
    parser.feed(html)
    return dict(parser.sent)


def test_fields_locked_in_the_state_are_text_and_a_change_to_them_is_refused(shop, db):
    """A confirmed order: the clerk may enter the delivery scans and the transport, not the
    ordered lines (the API's 403): the page shows the lines and the allocation as text, and a
    save carrying a changed quantity (a page opened before the order was confirmed) is refused
    with the API's message, the quantity unchanged."""
    clerk = shop.api("clerk")
    order = hospital_order(shop)
    edit = f"/forms/sales_order/{order['id']}/edit"
    page = clerk.get(edit)
    assert page.status_code == 200
    html = page.text
    sent = sent_by(html)
    assert not [name for name in sent if name.startswith(("lines[", "fulfilments["))]
    assert "customer" not in sent and "departure_temperature" in sent  # editable in this state
    assert "deliveries[0].quantity" in sent  # the scans stay inputs
    for table in ("lines", "fulfilments", "review_scans"):
        assert f'data-add-row="{table}"' not in html, table
    lines = html.split('data-table="lines"', 1)[1].split("</table>", 1)[0]
    assert "data-remove-row" not in lines and '<td data-label="Quantity"' in lines
    allocation = html.split('data-table="fulfilments"', 1)[1].split("</table>", 1)[0]
    assert "data-remove-row" not in allocation and "<input" not in allocation

    # what the page sends saves, the lines as they were
    saved = clerk.form(edit, {**sent, "departure_temperature": "5"})
    assert saved.status_code == 302, saved.text
    assert "Saved." in clerk.get(saved.headers["Location"]).text
    assert clerk.get(f"{SO}/{order['id']}").json["data"]["lines"][0]["quantity"] == "5"

    # a page opened while the order was a draft sends the lines: a change is refused, by name
    version = str(clerk.get(f"{SO}/{order['id']}").json["version"])
    stale = {**sent, "version": version, "lines[0].item": str(shop["STRIP"]),
             "lines[0].quantity": "3", "lines[0].unit_price": "20"}  # fmt: skip
    refused = clerk.form(edit, stale)
    assert refused.status_code == 403
    assert "You may not change &#39;Lines&#39; in state &#39;Confirmed (reserved)&#39;" in (
        refused.text
    )
    assert "Saved." not in refused.text
    with db.session() as session:
        assert session.get(Record, order["id"]).data["lines"][0]["quantity"] == "5"


def test_the_live_recompute_of_an_edit_page_reads_its_locked_lines_from_the_record(shop):
    """The page sends no lines (they are text): the recompute does not take that for none."""
    clerk = shop.api("clerk")
    order = hospital_order(shop)
    edit = clerk.get(f"/forms/sales_order/{order['id']}/edit").text
    answer = clerk.form("/forms/sales_order/evaluate", sent_by(edit)).text
    assert 'id="in-total"' in answer and 'value="100.00"' in answer  # 5 × 20, not 0
    assert 'id="in-lines-0-quantity"' not in answer and 'id="in-customer"' not in answer


def test_read_only_tables_offer_no_lines_to_add(shop):
    new_order = shop.api("clerk").get("/forms/sales_order/new").text
    assert 'data-add-row="lines"' in new_order
    assert 'data-add-row="fulfilments"' not in new_order
    assert 'data-row-template="fulfilments"' not in new_order
    recall = shop.api("qa").get("/forms/recall/new")
    assert recall.status_code == 200
    assert 'data-add-row="tasks"' not in recall.text and 'data-add-row="trace"' not in recall.text


def test_read_only_fields_read_as_text_not_as_inputs_that_drop_what_is_typed(shop):
    """退货冲减金额 and 已开票金额 are the server's to fill: shown as text, never sent."""
    new_order = shop.api("clerk").get("/forms/sales_order/new").text
    for name in ("returned", "invoiced", "parent_order"):
        assert f'id="f-{name}" data-computed="{name}"' in new_order
        assert f'name="{name}"' not in new_order


def test_hidden_line_columns_are_not_on_the_line_cards(shop):
    """The formulas the rules read (cold chain, departure within range, tracking) stay in the
    form, out of sight, where the recompute's answer lands; the clerk never sees them."""
    clerk = shop.api("clerk")
    for form, hidden in (("transfer_out", ("Cold chain", "Tracking", "Left within range")),
                         ("sales_order", ("Cold chain", "Left within range"))):  # fmt: skip
        html = clerk.get(f"/forms/{form}/new").text
        template = html.split('data-row-template="lines"', 1)[1].split("</template>", 1)[0]
        assert '<td data-label="Quantity">' in template
        for label in hidden:
            assert f'data-label="{label}"' not in html and f"<th>{label}</th>" not in html, label
        cell = template.split("data-hidden-fields>", 1)[1].split("</td>", 1)[0]
        assert 'id="in-lines-__INDEX__-cold_chain"' in cell
    answer = clerk.form("/forms/transfer_out/evaluate", {
        "lines[0].item": str(shop["STRIP"]), "lines[0].quantity": "1"}).text  # fmt: skip
    assert 'id="in-lines-0-tracking" hx-swap-oob="true"' in answer  # into the hidden cell


def test_a_discount_over_100_stays_as_typed_with_its_error(shop):
    """The line's 折扣率 of 120 is refused while typing: shown again as typed, with the reason,
    not set back to the default 0 that the order would then be saved at."""
    clerk = shop.api("clerk")
    typed = {"location": str(shop["S1"]), "lines[0].item": str(shop["STRIP"]),
             "lines[0].quantity": "1", "lines[0].unit_price": "10",
             "lines[0].discount": "120"}  # fmt: skip
    answer = clerk.form("/forms/sales_order/evaluate", typed).text
    field = answer.split('id="in-lines-0-discount"', 1)[1].split("</div></div>", 1)[0]
    assert 'value="120"' in field and "is-invalid" in field
    [message] = re.findall(r'data-error-for="lines\[0\]\.discount">([^<]+)<', answer)
    assert "100" in message
    refused = clerk.form("/forms/sales_order/new", typed)
    assert refused.status_code == 422
    assert re.search(r'name="lines\[0\]\.discount"[^>]*is-invalid[^>]*value="120"', refused.text)
