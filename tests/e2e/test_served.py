"""The browser tests' server: a test ends only when the requests it left in the server are done."""

from __future__ import annotations

import http.client
import threading
import time
from urllib.parse import urlsplit

from flask import Flask

from .conftest import served


def slow_app(started: threading.Event, finished: list[str]) -> Flask:
    app = Flask(__name__)

    @app.get("/slow")
    def slow():
        started.set()
        time.sleep(1.5)  # a redraw still reading the database when the test ends (the server's
        # shutdown alone takes up to its poll interval, 0.5 s)
        finished.append("slow")
        return "done"

    return app


def test_the_end_of_a_test_waits_for_the_request_in_hand():
    started, finished = threading.Event(), []
    with served(slow_app(started, finished)) as address:
        connection = http.client.HTTPConnection(urlsplit(address).netloc)
        threading.Thread(target=lambda: connection.request("GET", "/slow"), daemon=True).start()
        assert started.wait(10)
    assert finished == ["slow"]  # before the database is emptied for the next test
