"""The link picker finds a party's documents however many newer ones of other parties there are:
the link filter (this customer's delivered orders) narrows the search in SQL, and a filter SQL
cannot say (a recall with a task at the sending location) is checked page after page, not on
the newest rows only. Each picker here sees more than ``limit × 10`` newer rows that fail the
filter before the one that passes."""

from __future__ import annotations

from urllib.parse import quote

from app.kernel.items import add_item
from app.meta.models import Record

LOOKUP = "/api/v1/lookup/{target}?form={form}&field={field}"
PUMCH, OTHER = 7101, 7202  # customers: 北京协和医院 and another hospital
CROWD = 250  # newer rows that fail the filter: more than the 200 one page of 20 choices reads


def add_records(lab_app, org, form: str, rows: list[tuple[str, str, dict]]) -> list[int]:
    """``(number, state, data)`` rows of ``form`` at HQ, oldest first; their ids."""
    with lab_app.extensions["lianku.db"].transaction() as session:
        records = [
            Record(form=form, number=number, state=state, location_id=org["hq"], data=data)
            for number, state, data in rows
        ]
        session.add_all(records)
        session.flush()
        return [record.id for record in records]


def offered(api, url: str) -> list[int]:
    response = api.get(url)
    assert response.status_code == 200, response.json
    return [choice["value"] for choice in response.json["results"]]


def test_an_invoice_line_offers_every_delivered_order_of_its_hospital(lab_app, api, org):
    """PUMCH's eleven delivered November orders, behind 250 newer ones of another hospital and
    PUMCH's own order not delivered yet: all eleven are offered, newest first."""
    ours = add_records(lab_app, org, "sales_order", [
        (f"SO-HQ-202611-{n:05}", "delivered", {"customer": PUMCH}) for n in range(500, 511)
    ])  # fmt: skip
    theirs = [(f"SO-HQ-202611-{n:05}", "delivered", {"customer": OTHER}) for n in range(CROWD)]
    add_records(lab_app, org, "sales_order", [
        ("SO-HQ-202611-09999", "confirmed", {"customer": PUMCH}), *theirs
    ])  # fmt: skip
    picker = LOOKUP.format(target="sales_order", form="sales_invoice", field="lines.sales_order")
    assert offered(api, f"{picker}&this.customer={PUMCH}&q=202611") == ours[::-1]
    assert offered(api, f"{picker}&this.customer={PUMCH}") == ours[::-1]
    assert offered(api, f"{picker}&this.customer={PUMCH}&limit=3") == ours[:-4:-1]
    # the customer receipt's order picker reads the same filter
    receipt = LOOKUP.format(target="sales_order", form="customer_receipt", field="sales_order")
    assert offered(api, f"{receipt}&this.customer={PUMCH}&q=202611") == ours[::-1]
    # a customer no SQL integer or text can hold is compared row by row: no one's
    assert offered(api, f"{receipt}&this.customer={10**30}") == []
    assert offered(api, f"{receipt}&this.customer=a%00b") == []


def test_a_field_left_blank_passes_a_not_equal_filter(lab_app, api, org):
    """The invoice a red-letter one reverses: a confirmed one of the customer not itself red —
    one whose colour was never set counts as not red, as it does row by row."""
    blue, _red_of_ours = add_records(lab_app, org, "sales_invoice", [
        ("SI-000001", "confirmed", {"customer": PUMCH}),
        ("SI-000002", "confirmed", {"customer": PUMCH, "invoice_colour": "red"}),
    ])  # fmt: skip
    add_records(lab_app, org, "sales_invoice", [
        (f"SI-{n:06}", "confirmed", {"customer": OTHER, "invoice_colour": "blue"})
        for n in range(100, 100 + CROWD)
    ])  # fmt: skip
    picker = LOOKUP.format(target="sales_invoice", form="sales_invoice", field="original_invoice")
    assert offered(api, f"{picker}&this.customer={PUMCH}") == [blue]


def test_a_filter_checked_row_by_row_still_reaches_older_records(lab_app, api, org):
    """A recall return offers the issued recalls that gave the sending store a task: ``count``
    over the recall's tasks is not said in SQL, so the picker reads on past the first page."""
    [ours] = add_records(lab_app, org, "recall", [
        ("RC-202611-00001", "issued", {"tasks": [{"location": org["s1"]}]}),
    ])  # fmt: skip
    add_records(lab_app, org, "recall", [
        (f"RC-202611-{n:05}", "issued", {"tasks": [{"location": org["s2"]}]})
        for n in range(100, 100 + CROWD)
    ])  # fmt: skip
    picker = LOOKUP.format(target="recall", form="transfer_out", field="recall")
    assert offered(api, f"{picker}&this.from_location={org['s1']}") == [ours]
    assert len(offered(api, f"{picker}&this.from_location={org['s2']}")) == 20


def test_a_scan_typed_into_the_item_picker_finds_its_item(lab_app, api, org):
    """A scanner types the whole GS1 string (GTIN, expiry, lot) into a line's item picker: it
    holds the GTIN but is no substring of it, so the lookup reads it as a scan; the EAN-13 on a
    box, the human-readable form and a symbology prefix find it too. Text that is no GS1 code,
    or one with a wrong check digit, is searched as text and finds nothing here."""
    with lab_app.extensions["lianku.db"].transaction() as session:
        strip = add_item(session, "STRIP", "血糖试纸", gtin="06901234567892").id
        add_item(session, "GAUZE", "纱布", gtin="06901234567885")
    picker = LOOKUP.format(target="item", form="sales_order", field="lines.item")
    for typed in (
        "06901234567892",
        "6901234567892",
        "01069012345678921731063010L1",
        "]d2010690123456789217310630\x1d10L1",
        "(01)06901234567892(17)310630(10)L1",
    ):
        assert offered(api, f"{picker}&q={quote(typed)}") == [strip], typed
    for typed in ("01069012345678911731063010L1", "0106901234"):
        assert offered(api, f"{picker}&q={quote(typed)}") == [], typed
    assert offered(api, f"{picker}&q=strip") == [strip]
