"""Replenishment suggestions through the page, the job, the CLI and the API, on the chain of
``tests/replenishment_chain.py`` (whose plan ``tests/kernel/test_replenishment.py`` works out by
hand): the plan lands as one draft per location with its figures and suppliers, a second run
adds nothing, a manager edits and submits, the approval creates the transfer requests, purchase
orders and supplier returns; bad edits are refused naming the field."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from app.cli import main
from app.kernel import jobs
from app.kernel.replenishment import StockPolicy
from app.kernel.stock import StockBalance
from app.kernel.users import User
from app.meta import records
from app.meta.identity import update_user
from app.meta.models import Record
from tests import replenishment_chain as chain
from tests.application.transfers_fixtures import approve
from tests.conftest import csrf_token
from tests.forms_fixtures import PASSWORD, ApiClient, _password_hash

D = Decimal
RP = "/api/v1/forms/replenishment/records"
STAFF = {  # username → (role, location code)
    "planner": ("planner", "HQ"),
    "hq": ("hq_manager", "HQ"),
    "sz_manager": ("store_manager", "S-SZ"),
    "sz_clerk": ("store_clerk", "S-SZ"),
    "bj_manager": ("store_manager", "S-BJ"),
    "admin": ("admin", "HQ"),
}


@pytest.fixture
def bed(app, db):
    """The chain, its staff, suppliers, item cards (preferred supplier SUP-A), the policies as
    records, and the purchase receipt PR-S-BJ from SUP-B (where S-BJ's GAUZE lot came from)."""
    with db.transaction() as session:
        ids = chain.build(session)
        for username, (role, code) in STAFF.items():
            user = User(username=username, full_name=username, locale="en")
            user.password_hash = _password_hash()
            session.add(user)
            session.flush()
            update_user(session, user, roles=[role], location_ids=[ids[code]])
            ids[username] = user.id

        def record(form, data, state="approved", number=None, location=None):
            row = Record(form=form, data=data, state=state, number=number, location_id=location)
            session.add(row)
            session.flush()
            return row.id

        for code in ("SUP-A", "SUP-B"):
            ids[code] = record("supplier", {"code": code, "name": code, "licence_number": code})
        for code in ("STRIP", "GAUZE"):
            card = {"code": code, "name": code, "item": ids[code], "purchase_price": "4.20"}
            record("item_master", {**card, "preferred_supplier": ids["SUP-A"]})
        for (location, item), (safety, reorder, maximum) in chain.POLICIES.items():
            record(
                "stock_policy",
                {"location": ids[location], "item": ids[item], "safety_stock": str(safety),
                 "reorder_point": str(reorder), "max_stock": str(maximum)},
                state="draft", location=ids[location],
            )  # fmt: skip
        record("purchase_receipt", {"location": ids["S-BJ"], "supplier": ids["SUP-B"]},
               state="done", number="PR-S-BJ", location=ids["S-BJ"])  # fmt: skip
    return ids


def signed_in(app, username: str) -> ApiClient:
    return ApiClient(app.test_client()).login(username, PASSWORD)


def run_from_the_page(app, db, username="planner") -> jobs.Job:
    """Press the page's button, then let the worker run the queue."""
    client = app.test_client()
    page = client.get("/login")
    client.post("/login", data={"username": username, "password": PASSWORD,
                                "csrf_token": csrf_token(page.text)})  # fmt: skip
    page = client.get("/replenishment")
    assert page.status_code == 200 and "Run the plan now" in page.text
    response = client.post("/replenishment/run", data={"csrf_token": csrf_token(page.text)})
    assert response.status_code == 302 and response.location.endswith("/jobs")
    [job] = [jobs.run_next(db)]
    assert job.status == jobs.JobStatus.done, job.error
    assert f'href="/forms/replenishment/?run={job.id}"' in client.get("/jobs").text
    return job


def suggestions(db) -> dict[str, Record]:
    with db.session() as session:
        rows = session.scalars(select(Record).where(Record.form == "replenishment"))
        return {row.number.split("-")[1] + "-" + row.number.split("-")[2]: row for row in rows}


def brief(bed, record: Record) -> list[tuple]:
    codes = {bed[code]: code for code in chain.COORDINATES}
    items = {bed["STRIP"]: "STRIP", bed["GAUZE"]: "GAUZE"}
    suppliers = {bed["SUP-A"]: "SUP-A", bed["SUP-B"]: "SUP-B"}
    return [
        (line["action"], codes.get(line["from_location"]), codes.get(line["to_location"]),
         suppliers.get(line["supplier"]), items[line["item"]], line["lot"], D(line["quantity"]))
        for line in record.data["lines"]
    ]  # fmt: skip


def test_the_page_runs_the_plan_one_draft_per_location(app, db, bed):
    job = run_from_the_page(app, db)
    assert job.result == {
        "suggestions": 3,
        "lines": 11,
        "without_supplier": 0,
        "link": f"/forms/replenishment/?run={job.id}",
    }
    found = suggestions(db)
    assert sorted(found) == ["S-BJ", "S-SH", "S-SZ"]
    assert brief(bed, found["S-SZ"]) == [
        ("transfer", "WH-SH", "S-SZ", None, "STRIP", "A100", D(5)),
        ("transfer", "WH-SH", "S-SZ", None, "STRIP", "B300", D(5)),
        ("transfer", "S-HZ", "S-SZ", None, "STRIP", "H400", D(5)),
        ("transfer", "WH-NJ", "S-SZ", None, "STRIP", "C500", D(8)),
        # the rest is bought from the item's preferred supplier
        ("purchase", None, "S-SZ", "SUP-A", "STRIP", None, D(27)),
    ]
    # near-expiry stock is S-BJ's to decide: two faster stores, and back to the lot's supplier
    assert brief(bed, found["S-BJ"]) == [
        ("transfer", "S-BJ", "S-SH", None, "GAUZE", "N20", D(14)),
        ("transfer", "S-BJ", "S-SZ", None, "GAUZE", "N20", D(7)),
        ("return", "S-BJ", None, "SUP-B", "GAUZE", "N20", D(9)),
    ]
    first = found["S-SZ"].data["lines"][0]
    assert (first["reason"], first["projected"], first["reorder_point"], first["velocity"]) == (
        "reorder", "10.00", "20.00", "2.00",
    )  # fmt: skip
    assert (first["days_of_cover"], first["distance_km"], first["unit_price"]) == (
        "5.00", "84.80", "4.20",
    )  # fmt: skip
    assert found["S-SZ"].state == "draft" and found["S-SZ"].data["run"] == job.id
    # the suggestions of the run are one list away, and the store manager sees only hers
    listed = signed_in(app, "sz_manager").get(f"{RP}?run={job.id}").json
    assert [row["number"] for row in listed["items"]] == [found["S-SZ"].number]
    # a second run: the open suggestions are promises — every need is covered, every
    # near-expiry lot placed — so it suggests nothing
    again = run_from_the_page(app, db)
    assert again.result["suggestions"] == 0
    assert len(suggestions(db)) == 3


def covered(bed, found: dict[str, Record]) -> dict[tuple, Decimal]:
    """What suggestions bring each (location, item) and send back to suppliers from it."""
    totals: dict[tuple, Decimal] = {}
    for record in found.values():
        for action, source, to, _supplier, item, _lot, quantity in brief(bed, record):
            key = ("return", source, item) if action == "return" else ("in", to, item)
            totals[key] = totals.get(key, D(0)) + quantity
    return totals


def queue_a_plan(db, bed) -> None:
    with db.transaction() as session:
        jobs.enqueue(session, "replenishment", {"user_id": bed["planner"]}, bed["planner"])


def suggestion_writer(monkeypatch, before_each):
    """Make the record service call ``before_each(n)`` before it writes the job's n-th suggestion
    (0, 1, …); every other record is written as usual."""
    create, calls = records.create, []

    def create_calling_first(session, registry, user, form_name, payload, **options):
        if form_name == "replenishment":
            calls.append(payload["location"])
            before_each(len(calls) - 1)
        return create(session, registry, user, form_name, payload, **options)

    monkeypatch.setattr(records, "create", create_calling_first)


@pytest.mark.postgres_only
def test_other_saves_go_on_while_the_job_writes_its_suggestions(app, db, bed, monkeypatch):
    """Every record saved appends to the audit trail's main chain and holds its head until its
    transaction ends; the job writes each location's suggestion in a transaction of its own, so a
    clerk saving a record meanwhile waits for one suggestion at most, not for the whole run."""
    writing, release, outcome = threading.Event(), threading.Event(), {}

    def pause_before_the_second(n):
        if n == 1:
            writing.set()
            outcome["released"] = release.wait(15)

    suggestion_writer(monkeypatch, pause_before_the_second)
    queue_a_plan(db, bed)
    worker = threading.Thread(target=lambda: outcome.setdefault("job", jobs.run_next(db)))
    worker.start()
    assert writing.wait(30)
    saved = signed_in(app, "admin").post(
        "/api/v1/forms/supplier/records",
        json={
            "code": "SUP-C",
            "name": "SUP-C",
            "licence_number": "SUP-C",
            "licence_expiry": "2030-12-31",
        },
    )
    release.set()
    worker.join(30)
    assert saved.status_code == 201, saved.json
    assert outcome["released"], "the save waited for the job to end"
    assert outcome["job"].status == jobs.JobStatus.done, outcome["job"].error
    assert outcome["job"].result["suggestions"] == 3 and len(suggestions(db)) == 3


def test_a_run_that_fails_midway_keeps_what_it_wrote_and_the_next_run_plans_the_rest(
    app, db, bed, monkeypatch
):
    run_from_the_page(app, db)
    expected = covered(bed, suggestions(db))
    with db.transaction() as session:
        for record in session.scalars(select(Record).where(Record.form == "replenishment")):
            session.delete(record)

    def fail_at_the_second(n):
        if n == 1:
            raise RuntimeError("connection lost")

    suggestion_writer(monkeypatch, fail_at_the_second)
    queue_a_plan(db, bed)
    failed = jobs.run_next(db)
    assert failed.status == jobs.JobStatus.failed
    assert "1 of 3 suggestions were written before this error: connection lost" in failed.error
    assert len(suggestions(db)) == 1
    monkeypatch.undo()
    # the written draft counts as planned: the next run writes the other two, covering what a
    # clean run covers (the lots may differ: a draft promises quantities, not lots)
    again = run_from_the_page(app, db)
    assert again.result["suggestions"] == 2
    found = suggestions(db)
    assert sorted(found) == ["S-BJ", "S-SH", "S-SZ"]
    assert covered(bed, found) == expected


def test_a_suggestion_the_form_refuses_is_named_and_the_others_are_written(
    app, db, bed, monkeypatch
):
    def refuse_the_second(n):
        if n == 1:
            raise records.ValidationFailed({"lines[0].quantity": ["Must be greater than 0."]})

    suggestion_writer(monkeypatch, refuse_the_second)
    queue_a_plan(db, bed)
    failed = jobs.run_next(db)
    assert failed.status == jobs.JobStatus.failed
    written = sorted(suggestions(db))
    [refused] = {"S-BJ", "S-SH", "S-SZ"} - set(written)
    assert failed.error.startswith(
        "2 of 3 suggestions were written. The form refused these (correct the cause, then run"
        " the plan again for them): "
    )
    assert f"{refused}: lines[0].quantity: Must be greater than 0." in failed.error
    monkeypatch.undo()
    again = run_from_the_page(app, db)
    assert again.result["suggestions"] == 1
    assert sorted(suggestions(db)) == ["S-BJ", "S-SH", "S-SZ"]


def test_approval_creates_transfer_requests_purchase_orders_and_returns(app, db, bed):
    run_from_the_page(app, db)
    record = suggestions(db)["S-SZ"]
    manager = signed_in(app, "sz_manager")
    current = manager.get(f"{RP}/{record.id}").json
    lines = current["data"]["lines"]
    lines[4]["quantity"] = "20"  # buys 20 instead of 27
    lines[2]["quantity"] = "0"  # and nothing from Hangzhou
    response = manager.put(
        f"{RP}/{record.id}", json={"lines": lines, "version": current["version"]}
    )
    assert response.status_code == 200, response.json
    response = manager.post(f"{RP}/{record.id}/transitions/submit", json={})
    assert response.status_code == 200 and response.json["state"] == "in_approval", response.json
    # the planner made the plan: someone else approves it (four eyes) — HQ does
    approve(db, signed_in(app, "hq"), bed["hq"], record.id)
    with db.session() as session:
        done = session.get(Record, record.id)
        assert done.state == "approved"
        made = session.scalars(
            select(Record).where(Record.form.in_(["transfer_request", "purchase_order"]))
            .order_by(Record.id)
        ).all()  # fmt: skip
        assert done.data["documents"] == ", ".join(row.number for row in made)
        summary = [
            (row.form, row.state, row.data.get("from_location"), row.data.get("to_location"),
             row.data.get("location"), row.data.get("supplier"),
             [(line["item"], line.get("lot"), D(line["quantity"])) for line in row.data["lines"]])
            for row in made
        ]  # fmt: skip
    strip = bed["STRIP"]
    assert summary == [
        # the two WH-SH lots in one request, a line each
        ("transfer_request", "draft", bed["WH-SH"], bed["S-SZ"], None, None,
         [(strip, "A100", D(5)), (strip, "B300", D(5))]),
        ("transfer_request", "draft", bed["WH-NJ"], bed["S-SZ"], None, None,
         [(strip, "C500", D(8))]),
        ("purchase_order", "draft", None, None, bed["S-SZ"], bed["SUP-A"], [(strip, None, D(20))]),
    ]  # fmt: skip
    # the drafts are the store's to carry on with; a new run counts them as on their way
    assert run_from_the_page(app, db).result["suggestions"] == 0
    # near-expiry goods going back are set apart at once, and the return is S-BJ's draft
    record = suggestions(db)["S-BJ"]
    response = signed_in(app, "bj_manager").post(f"{RP}/{record.id}/transitions/submit", json={})
    assert response.status_code == 200, response.json
    approve(db, signed_in(app, "hq"), bed["hq"], record.id)
    with db.session() as session:
        [back] = session.scalars(select(Record).where(Record.form == "supplier_return")).all()
        assert (back.location_id, back.data["supplier"], back.data["reason"]) == (
            bed["S-BJ"], bed["SUP-B"], "near_expiry",
        )  # fmt: skip
        assert [(line["lot"], D(line["quantity"])) for line in back.data["lines"]] == [("N20", 9)]
        apart = session.scalar(
            select(StockBalance.on_hand).where(
                StockBalance.location_id == bed["S-BJ"], StockBalance.lot_id == bed["lot:N20"],
                StockBalance.status == "nonconforming",
            )
        )  # fmt: skip
        assert apart == 9
        requests = session.scalars(
            select(Record).where(Record.form == "transfer_request").order_by(Record.id)
        ).all()
        moved = [
            (row.data["to_location"], row.data["lines"][0]["lot"], row.data["lines"][0]["quantity"])
            for row in requests
            if row.data["from_location"] == bed["S-BJ"]
        ]
        assert moved == [(bed["S-SH"], "N20", "14"), (bed["S-SZ"], "N20", "7")]
    # the receiving store approves its near-expiry request: the transfer out S-BJ's staff pick
    # names the lot
    to_sz = next(row for row in requests if row.data["to_location"] == bed["S-SZ"]
                 and row.data["from_location"] == bed["S-BJ"])  # fmt: skip
    manager = signed_in(app, "sz_manager")
    response = manager.post(
        f"/api/v1/forms/transfer_request/records/{to_sz.id}/transitions/submit", json={}
    )
    assert response.status_code == 200, response.json
    approve(db, manager, bed["sz_manager"], to_sz.id)
    with db.session() as session:
        request = session.get(Record, to_sz.id)
        shipped = session.get(Record, request.data["transfer_out"])
        assert [(line["lot"], line["quantity"]) for line in shipped.data["lines"]] == [("N20", "7")]
        # the plan chose the lot for where it sells: its picking is not held to FEFO for it
        assert [line["fefo_reason"] for line in request.data["lines"]] == ["plan"]
        assert [line["fefo_reason"] for line in shipped.data["lines"]] == ["plan"]


def test_a_store_manager_plans_her_store_and_bad_edits_are_refused(app, db, bed):
    job = run_from_the_page(app, db, "sz_manager")
    assert job.result["suggestions"] == 1
    record = suggestions(db)["S-SZ"]
    assert list(suggestions(db)) == ["S-SZ"]
    manager = signed_in(app, "sz_manager")
    current = manager.get(f"{RP}/{record.id}").json
    for change, field in (
        ({"quantity": "-3"}, "lines[0].quantity"),
        ({"to_location": 999999}, "lines[0].to_location"),
        ({"from_location": None}, "lines[0].from_location"),
    ):
        lines = [dict(line) for line in current["data"]["lines"]]
        lines[0].update(change)
        response = manager.put(
            f"{RP}/{record.id}", json={"lines": lines, "version": current["version"]}
        )
        assert response.status_code == 422, response.json
        assert field in response.json["errors"], response.json
    assert manager.get(f"{RP}/{record.id}").json["version"] == current["version"]
    # a clerk may look but not run the plan for the chain... nor approve it
    assert (
        signed_in(app, "sz_clerk").post(f"{RP}/{record.id}/transitions/submit", json={}).status_code
        == 403
    )


def test_a_suggestion_moves_only_its_own_locations_goods_and_only_what_is_there(app, db, bed):
    """QA planted a transfer between two other stores in a store's suggestion, and transfers of
    more than the source held or of a lot it cannot send; approval would have made them requests
    and the next plan taken them as commitments. Submitting refuses each on its line."""
    run_from_the_page(app, db)
    record = suggestions(db)["S-SZ"]
    manager = signed_in(app, "sz_manager")
    planned = manager.get(f"{RP}/{record.id}").json["data"]["lines"]
    assert (planned[0]["action"], planned[0]["lot"]) == ("transfer", "A100")  # 30 at WH-SH

    def save(lines: list[dict]) -> None:
        current = manager.get(f"{RP}/{record.id}").json
        saved = manager.put(f"{RP}/{record.id}", json={"lines": lines,
                                                        "version": current["version"]})  # fmt: skip
        assert saved.status_code == 200, saved.json  # a draft may be saved so

    for change, field in (
        ({"to_location": bed["S-BJ"]}, "lines[0].to_location"),  # not S-SZ's goods
        ({"quantity": "31"}, "lines[0].quantity"),  # more than WH-SH has of A100
        ({"lot": "E95", "quantity": "6"}, "lines[0].quantity"),  # only 5 of E95 there
    ):
        save([{**planned[0], **change}, *planned[1:]])
        refused = manager.post(f"{RP}/{record.id}/transitions/submit", json={})
        assert refused.status_code == 422, refused.json
        assert list(refused.json["errors"]) == [field], refused.json
    save([{**planned[0], "quantity": "30"}, *planned[1:]])  # all WH-SH has of A100: it may go
    assert manager.post(f"{RP}/{record.id}/transitions/submit", json={}).status_code == 200


def test_an_item_without_a_preferred_supplier_gets_its_line_the_supplier_is_chosen_at_submit(
    app, db, bed
):
    """A card naming no preferred supplier does not stop the chain's plan: the purchase line is
    written without one, the page says how many lines need one, and submitting is refused on
    exactly those lines until a supplier is chosen."""
    with db.transaction() as session:
        code = Record.data["code"].as_string()
        card = session.scalar(select(Record).where(Record.form == "item_master", code == "STRIP"))
        card.data = {key: value for key, value in card.data.items() if key != "preferred_supplier"}
    job = run_from_the_page(app, db)
    assert (job.result["suggestions"], job.result["without_supplier"]) == (3, 1)
    client = signed_in(app, "planner")
    page = client.get("/replenishment").text
    assert "Lines needing a supplier before they can be submitted: 1" in page
    record = suggestions(db)["S-SZ"]
    assert brief(bed, record)[4] == ("purchase", None, "S-SZ", None, "STRIP", None, D(27))
    manager = signed_in(app, "sz_manager")
    url = f"{RP}/{record.id}"
    response = manager.post(f"{url}/transitions/submit", json={})
    assert response.status_code == 422, response.json
    assert response.json["errors"] == {
        "lines[4].supplier": ["Choose the supplier of this purchase or return"]
    }
    current = manager.get(url).json
    assert (current["state"], current["version"]) == ("draft", record.version)
    lines = current["data"]["lines"]
    lines[4]["supplier"] = bed["SUP-B"]
    response = manager.put(url, json={"lines": lines, "version": current["version"]})
    assert response.status_code == 200, response.json
    response = manager.post(f"{url}/transitions/submit", json={})
    assert response.status_code == 200 and response.json["state"] == "in_approval", response.json


def test_cron_runs_the_plan_as_the_chain_planner(app, db, bed, monkeypatch, database_url, tmp_path):
    monkeypatch.setenv("LIANKU_DATABASE_URL", database_url)
    monkeypatch.setenv("LIANKU_INSTANCE_PATH", str(tmp_path / "instance"))
    result = CliRunner().invoke(main, ["enqueue", "replenishment", "--run"])
    assert result.exit_code == 0, result.output
    assert "queued (replenishment)" in result.output and "1 job(s) run" in result.output
    found = suggestions(db)
    assert sorted(found) == ["S-BJ", "S-SH", "S-SZ"]
    assert found["S-SZ"].created_by is None


SP = "/api/v1/forms/stock_policy/records"


def typed_policies(db, ids) -> dict:
    """The kernel's ``stock_policies``: (location code, item code) → (safety, reorder, max)."""
    places = {ids[code]: code for code in chain.COORDINATES}
    items = {ids[code]: code for code in ("STRIP", "GAUZE")}
    with db.session() as session:
        return {
            (places[row.location_id], items[row.item_id]): (
                row.safety_stock,
                row.reorder_point,
                row.max_stock,
            )
            for row in session.scalars(select(StockPolicy))
        }


def test_the_typed_policies_follow_every_save_edit_and_delete(app, db, bed):
    """The plan reads the kernel's typed table; each change of a policy record reaches it in the
    same transaction, and a refused change leaves it as it was."""
    expected = {pair: tuple(D(v) for v in values) for pair, values in chain.POLICIES.items()}
    assert typed_policies(db, bed) == expected  # written as records by the fixture
    admin = signed_in(app, "admin")
    with db.session() as session:
        sz_strip = session.scalar(
            select(Record.id).where(
                Record.form == "stock_policy", Record.data["location"].as_integer() == bed["S-SZ"],
                Record.data["item"].as_integer() == bed["STRIP"],
            )
        )  # fmt: skip
    # delete: the pair has no policy any more (and the plan no need for it)
    version = admin.get(f"{SP}/{sz_strip}").json["version"]
    response = admin.delete(f"{SP}/{sz_strip}?version={version}")
    assert response.status_code in (200, 204), response.json
    del expected["S-SZ", "STRIP"]
    assert typed_policies(db, bed) == expected
    # create
    policy = {"location": bed["S-SZ"], "item": bed["STRIP"], "safety_stock": "4",
              "reorder_point": "8", "max_stock": "30"}  # fmt: skip
    response = admin.post(SP, json=policy)
    assert response.status_code == 201, response.json
    created = response.json
    expected["S-SZ", "STRIP"] = (D(4), D(8), D(30))
    assert typed_policies(db, bed) == expected
    # edit: one field, and the maximum taken away (target = reorder point + cover days of sales)
    response = admin.put(
        f"{SP}/{created['id']}",
        json={"reorder_point": "9", "max_stock": None, "version": created["version"]},
    )
    assert response.status_code == 200, response.json
    expected["S-SZ", "STRIP"] = (D(4), D(9), None)
    assert typed_policies(db, bed) == expected
    # refused: a second policy for the pair, a reorder point below the safety stock
    response = admin.post(SP, json={**policy, "reorder_point": "5"})
    assert response.status_code == 422, response.json
    current = admin.get(f"{SP}/{created['id']}").json
    response = admin.put(
        f"{SP}/{created['id']}", json={"reorder_point": "1", "version": current["version"]}
    )
    assert response.status_code == 422 and "reorder_point" in response.json["errors"], response.json
    assert typed_policies(db, bed) == expected


def test_the_planner_keeps_the_stock_policies_the_plan_aims_at(app, db, bed):
    """Who runs and approves the plan tunes its inputs: sets, changes and removes policies."""
    planner = signed_in(app, "planner")
    policies = "/api/v1/forms/stock_policy/records"
    created = planner.post(policies, json={
        "location": bed["S-SZ"], "item": bed["GAUZE"], "safety_stock": "3", "reorder_point": "5",
        "max_stock": "12",
    })  # fmt: skip
    assert created.status_code == 201, created.json
    changed = planner.put(f"{policies}/{created.json['id']}",
                          json={"max_stock": "20", "version": created.json["version"]})  # fmt: skip
    assert changed.status_code == 200, changed.json
    removed = planner.delete(f"{policies}/{created.json['id']}?version={changed.json['version']}")
    assert removed.status_code in (200, 204), removed.json
    assert signed_in(app, "sz_clerk").post(policies, json={}).status_code == 403


def test_a_near_expiry_return_of_a_serial_numbered_device_names_its_units(app, db, bed):
    """Approving a return of two pacemakers sets apart two units the lot has available at the
    store (the first by serial) and puts each on the supplier return by serial; it was refused
    before ("tracked by serial number") and held up the location's whole plan."""
    from app.kernel.items import add_item, get_or_create_lot, get_or_create_unit
    from app.kernel.locations import Location
    from app.kernel.stock import Movement, Reason, post_movements

    with db.transaction() as session:
        pace = add_item(session, "PACE", "起搏器", tracking="serial", expiry_required=False)
        lot = get_or_create_lot(session, pace, "P1", None)
        store = session.get(Location, bed["S-BJ"])
        units = [get_or_create_unit(session, pace, f"SN{n}", lot) for n in (3, 1, 2)]
        post_movements(session, [
            Movement(item=pace, quantity=Decimal(1), lot=lot, unit=unit, destination=store)
            for unit in units
        ], reason=Reason.purchase_receipt, document="PR-P")  # fmt: skip
        session.add(Record(form="item_master", state="approved", data={
            "code": "PACE", "name": "起搏器", "item": pace.id, "preferred_supplier": bed["SUP-B"],
        }))  # fmt: skip
        plan = Record(form="replenishment", state="draft", location_id=bed["S-BJ"], data={
            "location": bed["S-BJ"], "lines": [{
                "reason": "near_expiry", "action": "return", "item": pace.id, "lot": "P1",
                "from_location": bed["S-BJ"], "supplier": bed["SUP-B"], "quantity": "2",
            }],
        })  # fmt: skip
        session.add(plan)
        session.flush()
        plan_id, pace_id = plan.id, pace.id
    response = signed_in(app, "bj_manager").post(f"{RP}/{plan_id}/transitions/submit", json={})
    assert response.status_code == 200, response.json
    approve(db, signed_in(app, "hq"), bed["hq"], plan_id)
    with db.session() as session:
        assert session.get(Record, plan_id).state == "approved"
        [back] = session.scalars(select(Record).where(Record.form == "supplier_return")).all()
        assert [(line["serial"], line["quantity"]) for line in back.data["lines"]] == [
            ("SN1", "1"), ("SN2", "1"),
        ]  # fmt: skip
        apart = session.scalars(
            select(StockBalance.on_hand).where(
                StockBalance.item_id == pace_id, StockBalance.status == "nonconforming"
            )
        ).all()
        assert apart == [2]
