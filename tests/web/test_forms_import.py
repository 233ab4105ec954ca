"""Importing records from Excel through the API and the page, with ``field_lab``'s every field
type: the template, what people write in cells, and refusals by row and column, all or none."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from app.kernel import jobs
from app.kernel.audit import AuditEntry
from app.meta import imports
from app.meta.models import Record
from app.worker import in_starters_language
from tests.forms_fixtures import PASSWORD, ApiClient
from tests.web.test_forms_api import add_supplier

IMPORT = "/api/v1/forms/field_lab/import"
PAGE = "/forms/field_lab/import"
RECORDS = "/api/v1/forms/field_lab/records"


def sheet(*rows) -> io.BytesIO:
    book = Workbook()
    for row in rows:
        book.active.append(list(row))
    buffer = io.BytesIO()
    book.save(buffer)
    buffer.seek(0)
    return buffer


def upload(client, url, data: io.BytesIO | bytes, name="lab.xlsx"):
    if isinstance(data, bytes):
        data = io.BytesIO(data)
    return client.post(url, data={"file": (data, name)}, content_type="multipart/form-data")


def lab_records(lab_app) -> list[Record]:
    with lab_app.extensions["lianku.db"].session() as session:
        return list(session.scalars(select(Record).where(Record.form == "field_lab")))


HEADER = ("地点", "Title *", "count", "Weight", "Due", "加急", "Priority", "Tags", "Owner",
          "Supplier", "Urgency reason")  # fmt: skip


def test_the_template_lists_what_a_person_types_and_says_how(api, org):
    response = api.get("/forms/field_lab/import-template.xlsx")
    assert response.status_code == 200
    assert response.mimetype.endswith("spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(response.data))
    header = [cell.value for cell in book.worksheets[0][1]]
    assert header[:3] == ["Location *", "Title *", "Notes"]  # the admin's labels, in English
    assert "Code" not in header and "Total" not in header and "Lines" not in header
    assert "Photo" not in header and "Seq" not in header and "Entered by" not in header
    guide = {row[0]: row[1:] for row in book.worksheets[1].iter_rows(values_only=True)}
    assert guide["Priority"][1] == "Low / High"
    assert book.worksheets[0].column_dimensions["B"].number_format == "@"  # codes stay text


def test_the_template_has_a_column_per_line_field_behind_its_table(api, org):
    book = load_workbook(io.BytesIO(api.get("/forms/field_lab/import-template.xlsx").data))
    header = [cell.value for cell in book.worksheets[0][1]]
    lines = [title for title in header if title.startswith("Lines · ")]
    assert lines == [
        "Lines · Item *",
        "Lines · Quantity *",
        "Lines · Unit price",
        "Lines · Place",
        "Lines · Vendor",
    ]  # fmt: skip  (not the Amount formula)
    guide = [row[0] for row in book.worksheets[1].iter_rows(values_only=True)]
    assert guide[-1].startswith("A document with lines takes several rows")
    page = api.get(PAGE)
    assert "<li>Lines · Quantity <span" in page.text and 'id="import-lines-hint"' in page.text


#: the table's label before a line field, or its name, or the field's own title where no other
#: column has it (数量: only the lines have it; 地点 would be the document's location)
LINES_HEADER = ("Location", "Title", "Lines · Item", "数量", "lines.unit_price", "Vendor",
                "明细·地点")  # fmt: skip


def test_a_documents_lines_are_the_rows_under_it(lab_app, api, org):
    good = add_supplier(api, "GOOD")
    rows = sheet(
        LINES_HEADER,
        ("S1", "Alpha", "纱布", 2, 1.5, "GOOD", "S2"),
        (None, None, "棉签", 3, None, None, None),  # the document's cells empty: one more line
        ("S1", "Beta", None, None, None, None, None),  # a document without lines
        ("S1", "Gamma", "胶带", "1", 2, None, None),
    )
    response = upload(api, IMPORT, rows)
    assert response.status_code == 201, response.json
    assert response.json["created"] == 3
    alpha, beta, gamma = (api.get(f"{RECORDS}/{id}").json["data"] for id in response.json["ids"])
    lines = [(line["item"], line["quantity"], line.get("unit_price")) for line in alpha["lines"]]
    assert lines == [("纱布", "2", "1.5"), ("棉签", "3", None)]
    assert alpha["lines"][0]["vendor"] == good and alpha["lines"][0]["place"] == org["s2"]
    assert alpha["total"] == "3.00"  # the form's formulas over the imported lines
    assert beta.get("lines") in (None, []) and gamma["title"] == "Gamma"
    assert [line["item"] for line in gamma["lines"]] == ["胶带"]


def test_a_bad_line_is_named_by_its_own_row(lab_app, api, org):
    rows = (
        LINES_HEADER,
        ("S1", "Alpha", "纱布", 2, None, None, None),
        (None, None, "棉签", 0, None, None, None),  # below the field's minimum
        (None, None, None, "abc", None, None, None),  # no item, no number
        ("S1", "Beta", "胶带", 1, None, "NOPE", None),
    )
    response = upload(api, IMPORT, sheet(*rows))
    assert response.status_code == 422
    assert set(response.json["errors"]) == {
        "rows[3].lines.quantity", "rows[4].lines.item", "rows[4].lines.quantity",
        "rows[5].lines.vendor",
    }  # fmt: skip
    assert response.json["errors"]["rows[5].lines.vendor"] == [
        "Nothing you may use is called 'NOPE'."
    ]
    assert lab_records(lab_app) == []  # nothing is half-written
    page = api.form(PAGE, {"file": (sheet(*rows), "lab.xlsx")})
    assert page.status_code == 422
    assert "<td>3</td><td>Lines · Quantity</td>" in page.text


def test_every_row_becomes_a_record_through_the_forms_rules(lab_app, api, org):
    good = add_supplier(api, "GOOD")
    rows = sheet(
        HEADER,
        (
            "S1",
            "Alpha",
            4,
            1.25,
            dt.date(2027, 6, 30),
            "否",
            "高",
            "A, B",
            "clerk",
            "GOOD",
            None,
        ),
        (None,) * len(HEADER),  # an empty row is skipped
        ("S2 二号店", "Beta", None, None, "2027-07-01", True, "low", None, None, None, "急用"),
    )
    response = upload(api, IMPORT, rows)
    assert response.status_code == 201, response.json
    assert response.json["created"] == 2
    alpha, beta = (api.get(f"{RECORDS}/{id}").json for id in response.json["ids"])
    assert alpha["location_id"] == org["s1"] and beta["location_id"] == org["s2"]
    assert alpha["data"]["count"] == 4 and alpha["data"]["weight"] == "1.25"
    assert alpha["data"]["due"] == "2027-06-30" and alpha["data"]["urgent"] is False
    assert alpha["data"]["priority"] == "high" and alpha["data"]["tags"] == ["a", "b"]
    assert alpha["data"]["owner"] == org["clerk"] and alpha["data"]["supplier"] == good
    assert alpha["data"]["code"] == "FIXED" and alpha["data"]["discount"] == "0"  # defaults
    assert beta["data"]["urgent"] is True and beta["data"]["due"] == "2027-07-01"
    with lab_app.extensions["lianku.db"].session() as session:
        [entry] = session.scalars(select(AuditEntry).where(AuditEntry.action == "import"))
        assert entry.entity_id == "field_lab"
        assert entry.changes == {"records": response.json["ids"]}


def test_any_bad_row_refuses_the_whole_file_naming_row_and_column(lab_app, api, org):
    add_supplier(api, "BAD", "REVOKED")
    rows = sheet(
        HEADER,
        ("S1", "Alpha", 4, None, None, None, None, None, None, None, None),
        ("S1", "beta", 3, None, None, None, None, None, None, None, None),
        ("NOPE", "Gamma", None, None, None, "maybe", "urgent", None, None, "BAD", None),
        ("S1", "Alpha", None, None, None, None, None, None, None, None, None),
        ("S1", "Delta", "four", None, "soon", None, None, None, None, None, None),
    )
    response = upload(api, IMPORT, rows)
    assert response.status_code == 422
    errors = response.json["errors"]
    assert set(errors) == {
        "rows[3].title", "rows[3].count",  # pattern, the form's own validate rule
        "rows[4].location", "rows[4].urgent", "rows[4].supplier",  # unknown, not yes/no, filtered
        "rows[5].title",  # unique, against row 2 of the same file
        "rows[6].count", "rows[6].due",
    }  # fmt: skip
    assert errors["rows[3].count"] == ["Count must be even"]
    assert errors["rows[4].location"] == ["Nothing you may use is called 'NOPE'."]
    assert "rows[4].priority" not in errors  # row 4 was refused before the form saw it
    assert lab_records(lab_app) == []  # nothing is half-written


def test_a_file_that_is_not_a_sheet_of_this_form_is_refused(lab_app, api, org, monkeypatch):
    cases = [
        (sheet(("Title", "Colour", "Title"), ("A", "red", "B")), {"columns[B]", "columns[C]"}),
        (sheet(("Title",)), {"file"}),  # a header and no rows
        (sheet(), {"file"}),  # not even a header
        (b"title,count\nAlpha,4\n", {"file"}),  # a CSV named .xlsx
    ]
    for data, keys in cases:
        response = upload(api, IMPORT, data)
        assert response.status_code == 422, response.json
        assert set(response.json["errors"]) == keys, response.json
    monkeypatch.setattr(imports, "MAX_ROWS", 2)
    too_many = upload(
        api, IMPORT, sheet(("Location", "Title"), *[("S1", f"T{n}") for n in range(3)])
    )
    assert too_many.status_code == 422
    assert too_many.json["errors"] == {"file": ["A file takes at most 2 rows: split it."]}
    response = api.post(IMPORT, data={}, content_type="multipart/form-data")
    assert response.status_code == 422 and set(response.json["errors"]) == {"file"}
    assert lab_records(lab_app) == []


def test_a_clerk_imports_only_where_they_work(lab_app, org):
    clerk = ApiClient(lab_app.test_client()).login("clerk", PASSWORD)
    response = upload(clerk, IMPORT, sheet(("Location", "Title"), ("S2", "Other"), ("S1", "Own")))
    assert response.status_code == 422
    assert list(response.json["errors"]) == ["rows[2].location"]
    response = upload(clerk, IMPORT, sheet(("Location", "Title"), ("S1", "Own")))
    assert response.status_code == 201
    assert response.json["created"] == 1
    refused = upload(clerk, "/api/v1/forms/supplier/import", sheet(("Name",), ("X",)))
    assert refused.status_code == 403  # clerks read supplier cards, they do not create them


def test_the_import_page_shows_refusals_by_row_then_imports(lab_app, api, org):
    listing = api.get("/forms/field_lab/")
    assert f'href="{PAGE}"' in listing.text
    page = api.get(PAGE)
    assert page.status_code == 200
    assert 'type="file"' in page.text and "import-template.xlsx" in page.text
    bad = api.form(PAGE, {"file": (sheet(HEADER[:2], ("S1", "lower")), "lab.xlsx")})
    assert bad.status_code == 422
    assert 'id="import-refusals"' in bad.text
    assert "<td>2</td><td>Title</td>" in bad.text  # row 2, the Title column, and why
    done = api.form(PAGE, {"file": (sheet(HEADER[:2], ("S1", "Upper")), "lab.xlsx")})
    assert done.status_code == 302 and done.headers["Location"].endswith("/forms/field_lab/")
    assert [record.data["title"] for record in lab_records(lab_app)] == ["Upper"]


def test_the_valid_rows_are_kept_when_the_user_says_so(lab_app, api, org):
    rows = sheet(("Location", "Title"), ("S1", "Kept"), ("S1", "lower"), ("S1", "Also"))
    response = api.post(IMPORT, data={"file": (rows, "lab.xlsx"), "keep_valid": "1"},
                        content_type="multipart/form-data")  # fmt: skip
    assert response.status_code == 201, response.json
    assert response.json["created"] == 2 and list(response.json["errors"]) == ["rows[3].title"]
    assert sorted(r.data["title"] for r in lab_records(lab_app)) == ["Also", "Kept"]
    page = api.form(PAGE, {"file": (sheet(("Location", "Title"), ("S1", "More"), ("S1", "bad")),
                                    "lab.xlsx"), "keep_valid": "1"})  # fmt: skip
    assert page.status_code == 422  # the refusals stay on screen, with what was kept
    assert "These rows were refused" in page.text and "1 records imported." in page.text
    assert len(lab_records(lab_app)) == 3


@pytest.fixture
def worker(lab_app, db, monkeypatch):
    """Run the queued jobs as ``lianku worker`` does: in the app's context (no request), in
    their starter's language, each progress step written in its own transaction as well as
    noted in ``worker.reported``."""
    settings = lab_app.config["LIANKU"]
    monkeypatch.setenv("LIANKU_METADATA_DIR", settings.metadata_dir.as_posix())
    monkeypatch.setenv("LIANKU_WORKFLOWS_DIR", settings.workflows_dir.as_posix())
    write = jobs.JobRun.progress

    def progress(run, percent, message=None):
        run_queue.reported.append((percent, message))
        write(run, percent, message)

    monkeypatch.setattr(jobs.JobRun, "progress", progress)
    context = in_starters_language(lab_app)

    def run_queue() -> jobs.Job:
        return jobs.run_next(db, files_dir=Path(lab_app.instance_path), context=context)

    run_queue.reported = []
    return run_queue


def titles(count: int, location="S1", first=0) -> list[tuple]:
    return [(location, f"T{n}") for n in range(first, first + count)]


def test_a_big_file_is_imported_by_a_job_that_hands_back_the_refusals(
    lab_app, api, org, db, monkeypatch, worker
):
    monkeypatch.setattr(imports, "DIRECT_ROWS", 2)
    monkeypatch.setattr(imports, "PROGRESS_EVERY", 2)
    files = Path(lab_app.instance_path)
    good = upload(api, IMPORT, sheet(("Location", "Title"), *titles(4)))
    assert good.status_code == 202
    finished = worker()
    assert finished.id == good.json["job"] and finished.status == "done", finished.error
    assert finished.result == {"created": 4, "refused": 0}
    steps = [(47, "2 / 4"), (95, "4 / 4")] if db.dialect == "postgresql" else []
    assert worker.reported == [
        (0, "Importing 4 rows, saved together at the end."), *steps,
        (100, "4 imported, 0 rows refused."),
    ]  # fmt: skip
    assert len(lab_records(lab_app)) == 4
    assert not any((files / "imports").iterdir())  # the upload is not kept once imported
    bad = api.form(PAGE, {"file": (sheet(("Location", "Title"), ("S1", "U1"), ("S1", "low"),
                                         ("NOPE", "U2")), "lab.xlsx")})  # fmt: skip
    assert bad.status_code == 302 and bad.headers["Location"].endswith("/jobs")
    finished = worker()
    assert finished.status == "done" and finished.result["created"] == 0  # all or none: none
    assert finished.result["refused"] == 2
    refusals = load_workbook(files / finished.result["file"]).active
    assert list(refusals.iter_rows(values_only=True))[1:] == [
        (3, "Title", "Does not match the expected format."),
        (4, "Location", "Nothing you may use is called 'NOPE'."),
    ]
    assert len(lab_records(lab_app)) == 4
    download = api.get(f"/jobs/{finished.id}/download")
    assert download.status_code == 200


def test_a_clerks_file_of_more_than_direct_rows_is_imported_whole_by_the_worker(
    lab_app, org, db, worker
):
    """205 rows: a job, run by the worker (no request), that imports them all; progress is
    written as it goes where the database takes it beside the import's own transaction."""
    clerk = ApiClient(lab_app.test_client()).login("clerk", PASSWORD)
    total = imports.DIRECT_ROWS + 5
    queued = upload(clerk, IMPORT, sheet(("Location", "Title"), *titles(total)))
    assert queued.status_code == 202, queued.json
    finished = worker()
    assert finished.status == "done", finished.error
    assert finished.error is None and finished.result == {"created": total, "refused": 0}
    assert len(lab_records(lab_app)) == total
    if db.dialect == "postgresql":
        assert worker.reported[1:4] == [
            (46, "100 / 205"), (92, "200 / 205"), (95, "205 / 205")
        ]  # fmt: skip
    else:  # SQLite's one write lock is the import's until it ends: no step in between
        assert [step for step, _message in worker.reported] == [0, 100]
    followed = clerk.get(f"/api/v1/jobs/{finished.id}").json
    assert followed["status"] == "done" and followed["progress"] == 100
    assert followed["message"] == "205 imported, 0 rows refused."


def test_a_job_an_api_token_started_imports_with_the_tokens_role_and_locations(
    lab_app, api, org, db, monkeypatch, worker
):
    from app.meta import identity

    monkeypatch.setattr(imports, "DIRECT_ROWS", 2)
    with db.transaction() as session:
        token, plaintext = identity.issue_token(session, "erp", "store_clerk", [org["s1"]], None)
        account = token.user_id
    erp = lab_app.test_client()
    bearer = {"Authorization": f"Bearer {plaintext}"}
    rows = sheet(("Location", "Title"), *titles(2), ("S2", "Elsewhere"))
    queued = erp.post(IMPORT, data={"file": (rows, "erp.xlsx"), "keep_valid": "1"},
                      headers=bearer, content_type="multipart/form-data")  # fmt: skip
    assert queued.status_code == 202, queued.json
    waiting = erp.get(f"/api/v1/jobs/{queued.json['job']}", headers=bearer)
    assert waiting.status_code == 200 and waiting.json["status"] == "queued"
    finished = worker()
    assert finished.status == "done", finished.error
    assert finished.result["created"] == 2 and finished.result["refused"] == 1  # S2: not its
    assert {record.created_by for record in lab_records(lab_app)} == {account}
    followed = erp.get(f"/api/v1/jobs/{finished.id}", headers=bearer).json
    assert followed["status"] == "done" and followed["error"] is None
    assert followed["result"]["created"] == 2 and followed["result"]["refused"] == 1


def test_a_job_of_a_token_revoked_since_it_was_queued_imports_nothing(
    lab_app, api, org, db, monkeypatch, worker
):
    from app.kernel import tokens
    from app.meta import identity

    monkeypatch.setattr(imports, "DIRECT_ROWS", 2)
    with db.transaction() as session:
        token, plaintext = identity.issue_token(session, "erp", "store_clerk", [org["s1"]], None)
        token_id = token.id
    queued = lab_app.test_client().post(
        IMPORT, data={"file": (sheet(("Location", "Title"), *titles(3)), "erp.xlsx")},
        headers={"Authorization": f"Bearer {plaintext}"}, content_type="multipart/form-data",
    )  # fmt: skip
    assert queued.status_code == 202
    with db.transaction() as session:
        tokens.revoke_token(session, session.get(tokens.ApiToken, token_id))
    finished = worker()
    assert finished.status == "failed"
    # (a token has no language of its own: the job speaks the deployment's default)
    assert finished.error == "发起此任务的 API 令牌已被吊销或已过期。"
    assert lab_records(lab_app) == []


def test_an_import_job_whose_file_is_gone_says_so(lab_app, api, org, db, monkeypatch, worker):
    monkeypatch.setattr(imports, "DIRECT_ROWS", 2)
    queued = upload(api, IMPORT, sheet(("Location", "Title"), *titles(3)))
    with db.session() as session:
        kept = session.get(jobs.Job, queued.json["job"]).params["file"]
    (Path(lab_app.instance_path) / kept).unlink()
    finished = worker()
    assert finished.status == "failed"
    assert finished.error == "The uploaded file is no longer kept: upload it again."


def test_a_job_is_followed_by_its_starter_and_admins_only(lab_app, api, org, monkeypatch):
    monkeypatch.setattr(imports, "DIRECT_ROWS", 2)
    clerk = ApiClient(lab_app.test_client()).login("clerk", PASSWORD)
    job = upload(clerk, IMPORT, sheet(("Location", "Title"), *titles(3))).json["job"]
    assert clerk.get(f"/api/v1/jobs/{job}").json["status"] == "queued"
    assert api.get(f"/api/v1/jobs/{job}").status_code == 200  # the admin
    mine = upload(api, IMPORT, sheet(("Location", "Title"), *titles(3, first=9))).json["job"]
    refused = clerk.get(f"/api/v1/jobs/{mine}")
    assert refused.status_code == 404 and refused.is_json
    assert clerk.get("/api/v1/jobs/999999").status_code == 404
    assert lab_app.test_client().get(f"/api/v1/jobs/{job}").status_code == 401
    described = api.get("/api/v1/openapi.json").json["paths"]
    assert "get" in described["/api/v1/jobs/{id}"]


def percent_sheet(*rows) -> io.BytesIO:
    """Rows of (title, discount, weight) at S1; a cell given as ``("0%", 0.05)`` is the number
    0.05 formatted as a percentage, as Excel keeps "5%"."""
    book = Workbook()
    book.active.append(["Location", "Title", "Discount", "Weight"])
    for number, row in enumerate(rows, start=2):
        for column, value in enumerate(["S1", *row], start=1):
            number_format, value = value if isinstance(value, tuple) else (None, value)
            cell = book.active.cell(row=number, column=column, value=value)
            cell.number_format = number_format or cell.number_format
    buffer = io.BytesIO()
    book.save(buffer)
    buffer.seek(0)
    return buffer


def test_a_percent_field_reads_a_percentage_cell_as_the_per_cent_people_see(lab_app, api, org):
    rows = [
        ("Alpha", ("0%", 0.05), ("0%", 0.13)),  # "5%"; a decimal field keeps the cell's 0.13
        ("Beta", ("0.0%", 0.075), 2),  # "7.5%"
        ("Gamma", "12.5%", None),  # typed as text
        ("Delta", 3, None),  # a plain number is the per cent already
        ("Eta", ("0%", 1), None),  # "100%"
    ]
    response = upload(api, IMPORT, percent_sheet(*rows))
    assert response.status_code == 201, response.json
    got = [api.get(f"{RECORDS}/{id}").json["data"] for id in response.json["ids"]]
    discounts = [Decimal(data["discount"]) for data in got]
    assert discounts == [5, Decimal("7.5"), Decimal("12.5"), 3, 100]
    assert Decimal(got[0]["weight"]) == Decimal("0.13")
    template = load_workbook(io.BytesIO(api.get("/forms/field_lab/import-template.xlsx").data))
    guide = {row[0]: row[1:] for row in template.worksheets[1].iter_rows(values_only=True)}
    assert guide["Discount"][1] == "a number in per cent: 5, or a cell showing 5%"


def test_a_percentage_beyond_the_fields_bounds_is_refused_by_row(lab_app, api, org):
    rows = [("Alpha", ("0%", 0.05), None), ("Beta", ("0%", 1.2), None), ("Gamma", "five%", None)]
    response = upload(api, IMPORT, percent_sheet(*rows))
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"rows[3].discount", "rows[4].discount"}
    assert lab_records(lab_app) == []  # "120%" is 120, above the field's 100: none written


def test_a_job_whose_starter_may_no_longer_create_says_so_in_words(
    lab_app, org, db, monkeypatch, worker
):
    from app.kernel.users import User
    from app.meta.identity import update_user

    monkeypatch.setattr(imports, "DIRECT_ROWS", 2)
    clerk = ApiClient(lab_app.test_client()).login("clerk", PASSWORD)
    queued = upload(clerk, IMPORT, sheet(("Location", "Title"), *titles(3)))
    assert queued.status_code == 202
    with db.transaction() as session:  # the clerk becomes an auditor before the job runs
        update_user(session, session.get(User, org["clerk"]), roles=["auditor"],
                    location_ids=[org["s1"]])  # fmt: skip
    finished = worker()
    assert finished.status == "failed"
    assert finished.error == "You are not allowed to create Field lab."
    assert lab_records(lab_app) == []
