"""Mirrors: the kernel's typed ``stock_policies`` follow the ``stock_policy`` records on every flush
— created, edited, moved to another state, deleted — whoever writes them (here the ORM directly, as
a workflow action or an import would; the API is tested in tests/application/test_replenishment)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

import app.workflow  # noqa: F401  (registers the stock policy mirror)
from app.kernel.replenishment import StockPolicy
from app.meta import mirrors
from app.meta.models import Record
from tests import replenishment_chain as chain


def rows(session) -> list[tuple]:
    return [
        (row.location_id, row.item_id, row.reorder_point, row.max_stock, row.record_id)
        for row in session.scalars(select(StockPolicy).order_by(StockPolicy.location_id))
    ]


def policy(ids, location="S-SH", item="STRIP", reorder="20", maximum="45") -> dict:
    return {"location": ids[location], "item": ids[item], "safety_stock": "10",
            "reorder_point": reorder, "max_stock": maximum}  # fmt: skip


def test_the_typed_copy_follows_each_flush(db):
    assert mirrors.mirrored("stock_policy") is not None
    with db.transaction() as session:
        ids = chain.build(session)
        record = Record(form="stock_policy", state="draft", data=policy(ids))
        session.add(record)
        session.flush()
        assert rows(session) == [(ids["S-SH"], ids["STRIP"], 20, 45, record.id)]
        # edited: another item, no maximum
        record.data = {**policy(ids, item="GAUZE", reorder="5"), "max_stock": None}
        session.flush()
        assert rows(session) == [(ids["S-SH"], ids["GAUZE"], 5, None, record.id)]
        # cancelled: no policy; back in draft: the policy again
        record.state = "cancelled"
        session.flush()
        assert rows(session) == []
        record.state = "draft"
        session.flush()
        assert rows(session) == [(ids["S-SH"], ids["GAUZE"], 5, None, record.id)]
        # a second record for the same pair keeps nothing of its own (the form's unique key
        # refuses its save in the record service); incomplete records have no row either
        twin = Record(form="stock_policy", state="draft", data=policy(ids, item="GAUZE"))
        session.add_all([twin, Record(form="stock_policy", state="draft", data={"item": 1})])
        session.flush()
        assert rows(session) == [(ids["S-SH"], ids["GAUZE"], 5, None, record.id)]
        # deleted
        session.delete(record)
        session.flush()
        assert rows(session) == []
        # rebuilt from the records (after a bulk load around the record service)
        assert mirrors.refill(session, "stock_policy") == 1
        assert rows(session) == [(ids["S-SH"], ids["GAUZE"], Decimal(20), 45, twin.id)]
