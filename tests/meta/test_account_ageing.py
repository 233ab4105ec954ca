"""Ageing of the counterparty accounts (账龄): what each party still owes, by how long — its
latest increases open, as a party pays its oldest debts first. Figures by hand, the report's day
2026-11-25 (tests/report_chain.py):

    仁济医院 (SH01)  delivered 05-01 100, 09-01 50, 11-10 40; paid 11-20 120 → owes 70:
                     11-10 40 open (15 days), 09-01 30 of 50 (85 days), 05-01 paid
    华山医院 (BJ01)  delivered 10-20 30 (36 days), nothing paid      → owes 30
    瑞金医院 (SH01)  delivered 10-01 20, paid 10-05 20               → owes nothing: no row
    中山医院 (SH01)  paid 10-01 10 ahead of any delivery            → owes nothing: no row

By the due dates (账期): 仁济医院's 09-01 delivery fell due 10-31 (25 days overdue), its 11-10 one
falls due 2027-01-09 (not yet due); 华山医院's order carries no due date (written before there
were terms): due on its date, 36 days overdue.

The account rows are written as the flows leave them (a delivered order, a confirmed receipt):
the account source reads only their state and fields.
"""

from decimal import Decimal
from pathlib import Path

import pytest

import app.workflow  # noqa: F401
from app.kernel.users import User
from app.meta import load_metadata, records
from app.meta.models import Record
from app.meta.reports import compile_report, get_report, run_report
from tests.chain import PASSWORD
from tests.report_chain import TODAY, make_report_chain

ROOT = Path(__file__).resolve().parents[2]
D = Decimal
CUSTOMERS = {"H-RJ": "仁济医院", "H-HS": "华山医院", "H-RJN": "瑞金医院", "H-ZS": "中山医院"}
#: (customer, store, form, date, amount)
DOCUMENTS = [
    ("H-RJ", "SH01", "sales_order", "2026-05-01", "100"),
    ("H-RJ", "SH01", "sales_order", "2026-09-01", "50"),
    ("H-RJ", "SH01", "sales_order", "2026-11-10", "40"),
    ("H-RJ", "HQ", "customer_receipt", "2026-11-20", "120"),
    ("H-HS", "BJ01", "sales_order", "2026-10-20", "30"),
    ("H-RJN", "SH01", "sales_order", "2026-10-01", "20"),
    ("H-RJN", "SH01", "customer_receipt", "2026-10-05", "20"),
    ("H-ZS", "SH01", "customer_receipt", "2026-10-01", "10"),
]
BANDS = ("up_to_30", "up_to_60", "up_to_90", "up_to_180", "over_180")
#: (customer, date) → the due date its terms gave
DUE = {("H-RJ", "2026-09-01"): "2026-10-31", ("H-RJ", "2026-11-10"): "2027-01-09",
       ("H-RJ", "2026-05-01"): "2026-06-30"}  # fmt: skip


@pytest.fixture
def metadata():
    return load_metadata(ROOT / "metadata", ROOT / "workflows")


@pytest.fixture
def chain(app, db):
    chain = make_report_chain(app, db)
    registry = app.extensions["lianku.registry"]
    with app.test_request_context(), db.transaction() as session:
        admin = session.get(User, chain.users["admin"])
        customers = {
            code: records.create(session, registry, admin, "customer", {
                "code": code, "name": name, "kind": "hospital",
                "licence_number": f"L-{code}", "licence_expiry": "2030-01-01",
            }).id
            for code, name in CUSTOMERS.items()
        }  # fmt: skip
        for index, (code, store, form, day, amount) in enumerate(DOCUMENTS):
            if form == "sales_order":
                state = "delivered"
                data = {"sale_date": day, "total": amount, "sale_kind": "hospital"}
                if (code, day) in DUE:
                    data["due_date"] = DUE[code, day]
            else:
                state, data = "confirmed", {"receipt_date": day, "amount": amount}
            session.add(Record(form=form, number=f"D-{index}", state=state,
                               location_id=chain.loc(store),
                               data={**data, "customer": customers[code]}))  # fmt: skip
    return chain


def run(app, db, chain, name, username="finance", **params):
    report = get_report(load_metadata(ROOT / "metadata", ROOT / "workflows"), name)
    with app.test_request_context(), db.session() as session:
        user = session.get(User, chain.users[username])
        return run_report(session, report, params, user, today=TODAY)


def test_what_is_still_owed_is_the_latest_deliveries_by_their_age(app, db, chain):
    result = run(app, db, chain, "receivables_ageing")
    assert [(row["party"], row["open"], *(row[band] for band in BANDS), str(row["oldest"]))
            for row in result.rows] == [
        ("仁济医院", D(70), D(40), D(0), D(30), D(0), D(0), "2026-09-01"),
        ("华山医院", D(30), D(0), D(30), D(0), D(0), D(0), "2026-10-20"),
    ]  # fmt: skip
    assert [result.totals[name] for name in ("open", *BANDS)] == [
        D(100), D(40), D(30), D(30), D(0), D(0)
    ]  # fmt: skip
    # the balances report says the same debts, and the 10 paid ahead that ages nothing
    owed = run(app, db, chain, "receivables")
    assert {row["customer"]: row["balance"] for row in owed.rows if row["balance"]} == {
        "仁济医院": D(70), "华山医院": D(30), "中山医院": D(-10)
    }  # fmt: skip


def test_what_is_owed_splits_into_not_yet_due_and_overdue_by_the_due_dates(app, db, chain):
    result = run(app, db, chain, "receivables_ageing")
    assert [(row["party"], row["not_due"], row["overdue"], row["most_overdue"])
            for row in result.rows] == [
        ("仁济医院", D(40), D(30), 25),
        ("华山医院", D(0), D(30), 36),
    ]  # fmt: skip
    assert [result.totals[name] for name in ("not_due", "overdue", "most_overdue")] == [
        D(40), D(60), 36
    ]  # fmt: skip
    # past 90 days overdue the longest shows as danger, any overdue as a warning
    assert [row["_styles"] for row in result.rows] == [
        {"most_overdue": "warning"}, {"most_overdue": "warning"}
    ]  # fmt: skip


def test_the_ageing_as_it_stood_at_the_end_of_a_past_day(app, db, chain):
    """As of 11-15: 仁济医院's receipt of 11-20 is not in yet, so it owed all three deliveries
    (190): 11-10 40 (5 days, not due), 09-01 50 (75 days, 15 overdue), 05-01 100 (198 days,
    138 overdue); 华山医院 30 (26 days, 26 overdue); the others owed nothing."""
    result = run(app, db, chain, "receivables_ageing", as_of="2026-11-15")
    assert [(row["party"], row["open"], *(row[band] for band in BANDS), row["not_due"],
             row["overdue"], row["most_overdue"], str(row["oldest"]))
            for row in result.rows] == [
        ("仁济医院", D(190), D(40), D(0), D(50), D(0), D(100), D(40), D(150), 138, "2026-05-01"),
        ("华山医院", D(30), D(30), D(0), D(0), D(0), D(0), D(0), D(30), 26, "2026-10-20"),
    ]  # fmt: skip
    assert result.totals["open"] == D(220)
    # today's, by default: the figures of the first test
    assert run(app, db, chain, "receivables_ageing").totals["open"] == D(100)


def test_as_of_is_for_a_date_and_for_a_source_read_as_of_a_day(metadata):
    def param(kind, source):
        return {"name": "x", "label": {"zh_CN": "x", "en": "x"}, "source": source,
                "params": [{"name": "day", "type": kind, "op": "as_of",
                            "label": {"zh_CN": "日", "en": "Day"}}],
                "columns": [{"name": "n", "column": "id", "aggregate": "count",
                             "label": {"zh_CN": "n", "en": "n"}}]}  # fmt: skip

    report, problems = compile_report(param("text", "account:receivable"), metadata)
    assert (("params", 0, "op"), "only a date parameter can compare as as_of") in problems
    report, problems = compile_report(param("date", "ledger"), metadata)
    assert (("params", 0, "op"), "this source cannot be read as of a day") in problems
    report, problems = compile_report(param("date", "account:payable"), metadata)
    assert problems == [] and report.params[0].column == "date"


def test_the_documents_due_are_listed_by_their_due_dates(app, db, chain):
    """Up to 30 days ahead by default: the two overdue ones, the oldest due first; a later
    horizon adds 仁济医院's 11-10 delivery, not yet due. Paid documents are not listed."""
    result = run(app, db, chain, "receivables_due")
    assert [(str(row["due_date"]), row["party"], str(row["date"]), row["overdue_days"],
             row["open"]) for row in result.rows] == [
        ("2026-10-20", "华山医院", "2026-10-20", 36, D(30)),
        ("2026-10-31", "仁济医院", "2026-09-01", 25, D(30)),
    ]  # fmt: skip
    assert result.totals["open"] == D(60)
    later = run(app, db, chain, "receivables_due", due_by="2027-01-31")
    assert [(row["party"], row["overdue_days"], row["open"]) for row in later.rows][-1] == (
        "仁济医院",
        0,
        D(40),
    )
    assert later.totals["open"] == D(100)
    assert run(app, db, chain, "payables_due").rows == []  # nothing owed to the suppliers here


def test_a_store_ages_its_own_deliveries_against_every_payment(app, db, chain):
    # the receipt was taken at HQ, yet it paid the store's oldest deliveries
    shanghai = run(app, db, chain, "receivables_ageing", username="manager_a")
    assert [(row["party"], row["open"], row["up_to_30"]) for row in shanghai.rows] == [
        ("仁济医院", D(70), D(40))
    ]
    beijing = run(app, db, chain, "receivables_ageing", username="manager_b")
    assert [(row["party"], row["open"]) for row in beijing.rows] == [("华山医院", D(30))]


def test_the_ageing_through_the_api_and_on_the_page(app, db, chain, client, login):
    login("finance", PASSWORD)
    body = client.get("/api/v1/reports/receivables_ageing").get_json()
    assert [row["values"]["party"] for row in body["rows"]] == ["仁济医院", "华山医院"]
    assert body["totals"]["values"]["open"] == "100.00"
    page = client.get("/reports/receivables_ageing")
    assert page.status_code == 200 and "仁济医院" in page.text
    before = client.get("/api/v1/reports/receivables_ageing?as_of=2026-11-15").get_json()
    assert before["totals"]["values"]["open"] == "220.00"
    assert client.get("/reports/receivables_ageing?as_of=2026-11-15").status_code == 200
    bad = client.get("/api/v1/reports/receivables_ageing?as_of=15/11/2026")
    assert bad.status_code == 400 and "as_of" in str(bad.get_json()), bad.get_json()
    # nothing is owed to the suppliers here: an empty ageing, not an error
    assert client.get("/api/v1/reports/payables_ageing").get_json()["rows"] == []
