"""Browser tests: the real app served on 127.0.0.1, driven by Debian's Chromium via Playwright.

Never ``playwright install``: its browser download cannot be reached here; ``/usr/bin/chromium``
is installed by ``.ci/run`` (Debian package).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from werkzeug.serving import make_server

HERE = Path(__file__).parent
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}


def pytest_collection_modifyitems(config, items):
    """Mark (and, without Chromium, skip) the browser tests: the hook sees every test of the
    session, not only this folder's.

    They run once, on SQLite: the pages and their scripts are the same on either database, and
    CI runs the two databases side by side on two cores, where two browsers at once made the
    live recompute's races the usual failure (three in one run); the HTTP API, the kernel and
    the concurrency tests run on PostgreSQL."""
    for item in items:
        if HERE not in item.path.parents:
            continue
        item.add_marker(pytest.mark.e2e)
        if not CHROMIUM.exists():
            item.add_marker(pytest.mark.skip(reason="needs /usr/bin/chromium"))
        elif os.environ.get("LIANKU_TEST_DB") == "postgres":
            item.add_marker(pytest.mark.skip(reason="browser tests run once, on SQLite"))


class _Draining:
    """WSGI middleware that counts the requests in hand, so that the test's end can wait for them.

    A test may end while the browser still has a request in the server, a designer's redraw or a
    recompute its last keystroke asked for. Left running, it held a table's lock while the next
    fixture emptied the database, and PostgreSQL broke the deadlock by failing the TRUNCATE: that
    test errored and the next found the last one's rows. ``server.shutdown()`` stops accepting
    connections only: a request accepted just before it reaches the app after the wait has begun,
    and is answered 503 without touching the database."""

    def __init__(self, app):
        self.app = app
        self.in_hand = 0
        self.closing = False
        self.changed = threading.Condition()

    def __call__(self, environ, start_response):
        with self.changed:
            if self.closing:
                start_response("503 Service Unavailable", [("Content-Type", "text/plain")])
                return [b"the test is over"]
            self.in_hand += 1
        return self._answer(environ, start_response)

    def _answer(self, environ, start_response):
        try:
            yield from self.app(environ, start_response)
        finally:
            with self.changed:
                self.in_hand -= 1
                self.changed.notify_all()

    def drain(self, timeout: float = 30) -> None:
        with self.changed:
            self.closing = True
            if not self.changed.wait_for(lambda: self.in_hand == 0, timeout):
                raise AssertionError(f"{self.in_hand} request(s) in the server after {timeout} s")


@contextmanager
def served(app) -> Iterator[str]:
    """``app`` served over real HTTP on a free port while the block runs; yields its address.
    On the way out, the requests in hand are waited for (see ``_Draining``)."""
    draining = _Draining(app)
    server = make_server("127.0.0.1", 0, draining, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()
        draining.drain()


@pytest.fixture
def live_server(app):
    """The test app served over real HTTP on a free port, for the length of one test."""
    with served(app) as address:
        yield address


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page_factory(browser, tmp_path):
    """New pages in fresh contexts: ``page_factory(viewport=PHONE, locale="zh-CN")``."""
    contexts = []

    def _page(viewport=DESKTOP, locale="zh-CN"):
        context = browser.new_context(viewport=viewport, locale=locale)
        contexts.append(context)
        return context.new_page()

    yield _page
    for context in contexts:
        context.close()


@pytest.fixture
def screenshot_dir() -> Path:
    """Screenshots land in ``test-results/`` (git-ignored) for a person to look at."""
    path = Path(__file__).resolve().parents[2] / "test-results"
    path.mkdir(exist_ok=True)
    return path


def sign_in(page, server: str, username: str, password: str) -> None:
    page.goto(f"{server}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/")


RECORD_PAGE = re.compile(r"/forms/[a-z0-9_]+/\d+$")


def chosen(page, field: str) -> str:
    """What the link picker of ``field`` holds, as the page shows it ("" when nothing)."""
    return page.locator(f"[data-field='{field}'] select").first.evaluate(
        "select => select.selectedOptions.length ? select.selectedOptions[0].text : ''"
    )


def pick(page, field: str, typed: str, option: str | None = None) -> None:
    """Choose ``option`` (by default ``typed``) in the link picker of ``field``, searching for
    ``typed``, and wait until the form holds the choice and its live recompute is back.

    Under load two things were seen to lose a choice: the form's recompute of the change before
    landing while the picker is typed into (the picker loses focus and closes its list), and the
    list redrawn by the search's answer just as an option of the first list is clicked (the
    click lands on nothing and no error says so). So the choice is checked on the form's own
    ``<select>``, and made again if it did not take."""
    picker = page.locator(f"[data-field='{field}']").first
    choice = picker.locator(".ts-dropdown .option", has_text=option or typed).first
    held = """([selector, text]) => [...document.querySelectorAll(selector)].some(
        select => [...select.selectedOptions].some(chosen => chosen.text.includes(text)))"""
    for _attempt in range(3):
        picker.locator(".ts-control").first.click()
        page.keyboard.press("Control+A")
        page.keyboard.press("Backspace")  # (what an earlier attempt typed)
        page.keyboard.type(typed)
        try:
            picker.locator(".ts-wrapper:not(.loading)").first.wait_for(timeout=10_000)
            choice.click(timeout=10_000)
            page.wait_for_function(held, arg=[f"[data-field='{field}'] select", option or typed],
                                   timeout=5_000)  # fmt: skip
            break
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
    else:
        raise AssertionError(f"{option or typed!r} could not be chosen in {field}")
    page.wait_for_load_state("networkidle")  # the live recompute the change asked for is back


def fill(page, selector: str, value: str) -> None:
    """Fill the input at ``selector`` with ``value`` and wait until it holds it, filling again when
    it does not.

    Playwright fills in two steps: the input is focused and its text selected, then the text is
    typed. Focusing it sends the live recompute of the field left (its ``change``), and an answer
    that lands between the two steps may replace inputs of the row, with htmx giving the focus and
    the old selection back to the new ones: once in CI the unit cost typed after a scan was refused
    as "Not a valid number." on save. Checked here rather than found at the save."""
    field = page.locator(selector)
    for _attempt in range(3):
        field.fill(value)
        page.wait_for_load_state("networkidle")  # the recompute this fill's focus asked for
        if field.input_value() == value:
            return
    raise AssertionError(f"{selector} holds {field.input_value()!r}, not {value!r}")


def scan_into_new_row(page, table: str, scanned: str, lot: str, row: int = 0) -> None:
    """Add row ``row`` to ``table`` and scan ``scanned`` into its scan field as a scanner types
    it, Enter last; wait until the scan has filled the row's lot with ``lot``."""
    page.click(f"[data-add-row={table}]")
    page.locator(f"input[name='{table}[{row}].scan']").click()
    page.keyboard.type(scanned)
    page.keyboard.press("Enter")
    filled = f"document.querySelector(\"input[name='{table}[{row}].lot']\").value === '{lot}'"
    page.wait_for_function(filled, timeout=5000)


def save(page) -> None:
    """Press the form's Save and wait for the saved record's page. A refused save fails at once
    with what the page marked (it used to show only as a wait for the record page timing out).

    Once in CI the press sent nothing (no request reached the server): a link picker's list,
    left open over the button by a late redraw, took the click. The press is then made again
    once, the list closed; a form the browser itself holds back says which inputs."""
    for attempt in range(2):
        try:
            with page.expect_navigation(timeout=20_000):
                page.click("#record-form button[type=submit]")
            break
        except PlaywrightTimeout:
            held = page.evaluate(
                "[...document.querySelectorAll('#record-form :invalid')].map(e => e.name)"
            )
            if held or attempt:
                raise AssertionError(f"the save was not sent: {held or 'no page came'}") from None
            page.keyboard.press("Escape")
    if not RECORD_PAGE.search(page.url):
        refusal = page.locator(".alert-danger, .invalid-feedback").all_inner_texts()
        marked = page.evaluate(
            "[...document.querySelectorAll('.is-invalid')].map(e => e.name || e.id)"
        )
        raise AssertionError(f"the save was refused at {page.url}: {refusal} on {marked}")
