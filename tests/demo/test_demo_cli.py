"""``lianku demo`` as ``make run`` and a benchmark call it: options, counts, rerun, determinism."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from app.cli import main
from app.demo import history
from app.kernel.items import Item, business_timezone, business_today, is_valid_gtin
from app.kernel.locations import Location
from app.kernel.stock import LedgerEntry
from app.kernel.users import User
from app.meta.models import Record
from app.workflow.models import Signature
from tests.conftest import clean
from tests.demo.conftest import TINY
from tests.kernel.conftest import assert_balances_match_ledger


def _count(session, model, *where) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where))


def test_tiny_chain_through_the_cli(runner, db):
    result = runner.invoke(main, ["demo", *TINY])
    assert result.exit_code == 0, result.output
    assert "demo data loaded: 9 locations, 15 users, 10 items" in result.output
    assert "sh01_clerk" in result.output and "wh_sh_supervisor" in result.output
    assert "r_east_manager" in result.output
    assert "documents: adverse_event " in result.output and "item_master 10" in result.output
    today = business_today()
    with db.session() as session:
        kinds = dict(
            session.execute(select(Location.type, func.count()).group_by(Location.type)).all()
        )
        assert {kind: kinds.get(kind) for kind in ("hq", "region", "warehouse", "store")} == {
            "hq": 1, "region": 5, "warehouse": 1, "store": 2,
        }  # fmt: skip
        assert _count(session, Item) == 10
        # HQ's 7, two at each store and warehouse, a manager for each region holding them
        assert _count(session, User) == 7 + 2 * 2 + 2 * 1 + 2
        regional = session.scalar(select(User).where(User.username == "r_east_manager"))
        assert regional.role_names == ["region_manager"]
        assert_balances_match_ledger(session)
        receipts = session.scalars(
            select(Record).where(Record.form == "purchase_receipt").order_by(Record.id)
        ).all()
        assert receipts and {receipt.state for receipt in receipts} == {"done"}
        signed = set(session.scalars(select(Signature.record_id)))
        assert {receipt.id for receipt in receipts} <= signed  # every inspection signed
        first = receipts[0]
        assert first.created_at.astimezone(business_timezone()).date() == today - dt.timedelta(2)
        assert first.data["arrival_date"] == (today - dt.timedelta(2)).isoformat()
        assert _count(session, LedgerEntry, LedgerEntry.document == first.number) > 0
        sales = session.scalars(select(Record).where(Record.form == "sales_order")).all()
        assert sales and all(sale.data["lines"] for sale in sales)


def test_if_empty_leaves_a_loaded_database_alone(runner, db):
    assert runner.invoke(main, ["demo", *TINY]).exit_code == 0
    with db.session() as session:
        before = (_count(session, Record), _count(session, LedgerEntry), _count(session, User))
    again = runner.invoke(main, ["demo", "--if-empty", *TINY])
    assert again.exit_code == 0, again.output
    assert "not loaded again" in again.output and "sh01_clerk" in again.output
    with db.session() as session:
        assert (_count(session, Record), _count(session, LedgerEntry), _count(session, User)) == (
            before
        )


def test_without_if_empty_a_loaded_database_is_refused(runner, db):
    assert runner.invoke(main, ["demo", *TINY]).exit_code == 0
    with db.session() as session:
        before = _count(session, Record)
    again = runner.invoke(main, ["demo", *TINY])
    assert again.exit_code == 1
    assert "loads only into an empty one" in again.output
    with db.session() as session:
        assert _count(session, Record) == before


def test_a_demo_load_that_stopped_midway_is_not_taken_for_a_loaded_one(runner, db, monkeypatch):
    """The days commit one by one: a load that fails on day 2 leaves day 1 behind, and `make
    run` (``--if-empty``) must not start the app on that half chain as if it were the demo."""
    simulate = history._simulate

    def failing(day, number, last, state):
        if number == 1:
            raise RuntimeError("the kernel refused something on day 2")
        simulate(day, number, last, state)

    monkeypatch.setattr(history, "_simulate", failing)
    stopped = runner.invoke(main, ["demo", *TINY])
    assert stopped.exit_code != 0 and isinstance(stopped.exception, RuntimeError)
    monkeypatch.setattr(history, "_simulate", simulate)
    again = runner.invoke(main, ["demo", "--if-empty", *TINY])
    assert again.exit_code == 1
    assert "stopped before its last day" in again.output and "remove it (" in again.output


def _items(db) -> list[tuple[str, str, str]]:
    with db.session() as session:
        rows = session.execute(
            select(Item.code, Item.gtin, Item.registration_cert).order_by(Item.code)
        ).all()
        return [tuple(row) for row in rows]


def test_the_same_seed_gives_the_same_items(runner, db):
    assert runner.invoke(main, ["demo", *TINY, "--seed", "7"]).exit_code == 0
    first = _items(db)
    assert all(is_valid_gtin(gtin) for _code, gtin, _cert in first)
    clean(db)
    assert runner.invoke(main, ["demo", *TINY, "--seed", "7"]).exit_code == 0
    assert _items(db) == first
    clean(db)
    assert runner.invoke(main, ["demo", *TINY, "--seed", "8"]).exit_code == 0
    assert _items(db) != first


def test_locations_are_in_china(runner, db):
    assert runner.invoke(main, ["demo", *TINY]).exit_code == 0
    with db.session() as session:
        placed = session.scalars(select(Location).where(Location.latitude.is_not(None))).all()
        assert {location.type for location in placed} == {"hq", "warehouse", "store"}
        for location in placed:
            assert 18 <= location.latitude <= 54 and 73 <= location.longitude <= 135
            assert location.address


def test_bad_options_are_refused_before_anything_is_written(runner, db):
    result = runner.invoke(main, ["demo", "--stores", "0"])
    assert result.exit_code == 2
    assert "--stores" in result.output
    with db.session() as session:
        assert _count(session, User) == 0
