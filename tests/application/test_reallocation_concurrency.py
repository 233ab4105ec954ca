"""Cancelling a sales order and the transfer its allocation made, at the same time (PostgreSQL,
real threads through the API). The order's cancel locks the order, then the transfer (to cancel
it); the transfer's cancel locks the transfer, then the order (to report the shortfall): the
opposite order. Forced into that interleaving, PostgreSQL breaks the deadlock by aborting one of
them with a retryable error, which the API runs again: both requests answer (200, or 409 for the
transfer already cancelled by the order), nothing hangs, nothing is left held."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from app.kernel import retry
from tests.application import allocation_fixtures
from tests.application.allocation_fixtures import SO, TO, held, records
from tests.application.test_reallocation import confirmed
from tests.races import wait_until_blocked

chain = allocation_fixtures.chain  # the fixture, used by name


@pytest.mark.postgres_only
def test_cancelling_the_order_and_its_transfer_at_once_neither_hangs_nor_half_writes(
    chain, db, monkeypatch
):
    clerk, manager, buyer = chain.api("clerk"), chain.api("manager"), chain.api("buyer")
    aborted: list[str] = []  # the SQLSTATEs of the database errors the API looked at

    def is_retryable(error):
        aborted.append(getattr(getattr(error, "orig", None), "sqlstate", None))
        return original(error)

    original = retry.is_retryable
    monkeypatch.setattr(retry, "is_retryable", is_retryable)
    order = confirmed(clerk, chain, 8)  # a transfer from SZ01 (C × 8), held there
    (transfer,) = records(db, "transfer_out")
    results: dict[str, tuple] = {}

    def cancel(name, api, url):
        response = api.post(url, json={"comment": f"{name} 取消"})
        results[name] = (response.status_code, response.json)

    # a third transaction holds the transfer's row: the transfer's cancel queues for it first,
    # then the order's cancel locks the order and queues behind it
    blocker = db.session(write=True)
    blocker.begin()
    blocker.execute(text("SELECT id FROM records WHERE id = :id FOR UPDATE"), {"id": transfer.id})
    threads = [
        threading.Thread(target=cancel, args=(
            "transfer", buyer, f"{TO}/{transfer.id}/transitions/cancel")),
        threading.Thread(target=cancel, args=(
            "order", manager, f"{SO}/{order['id']}/transitions/cancel")),
    ]  # fmt: skip
    try:
        threads[0].start()
        wait_until_blocked(db, 1)
        threads[1].start()
        wait_until_blocked(db, 2)
    finally:
        blocker.rollback()
        blocker.close()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a cancel hung"

    # PostgreSQL found the cycle and aborted one of them (deadlock detected), which ran again
    assert aborted == ["40P01"], (aborted, results)
    assert results["order"][0] == 200, results
    assert results["transfer"][0] in (200, 409), results
    if results["transfer"][0] == 409:  # it ran again after the order had cancelled it
        assert "cancelled" in results["transfer"][1]["error"].lower() or results["transfer"][1]
    order = clerk.get(f"{SO}/{order['id']}").json
    assert order["state"] == "cancelled" and order["data"]["fulfilments"] == []
    assert [record.state for record in records(db, "transfer_out")] == ["cancelled"]
    assert held(db) == []
