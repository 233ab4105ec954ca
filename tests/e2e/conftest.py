"""Browser tests: the real app served on 127.0.0.1, driven by Debian's Chromium via Playwright.

Never ``playwright install``: its browser download cannot be reached here; ``/usr/bin/chromium``
is installed by ``.ci/run`` (Debian package).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
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
    session, not only this folder's."""
    for item in items:
        if HERE not in item.path.parents:
            continue
        item.add_marker(pytest.mark.e2e)
        if not CHROMIUM.exists():
            item.add_marker(pytest.mark.skip(reason="needs /usr/bin/chromium"))


@contextmanager
def served(app) -> Iterator[str]:
    """``app`` served over real HTTP on a free port while the block runs; yields its address."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


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


def save(page) -> None:
    """Press the form's Save and wait for the saved record's page. A refused save fails at once
    with what the page marked (it used to show only as a wait for the record page timing out)."""
    with page.expect_navigation():
        page.click("#record-form button[type=submit]")
    if not RECORD_PAGE.search(page.url):
        refusal = page.locator(".alert-danger, .invalid-feedback").all_inner_texts()
        marked = page.evaluate(
            "[...document.querySelectorAll('.is-invalid')].map(e => e.name || e.id)"
        )
        raise AssertionError(f"the save was refused at {page.url}: {refusal} on {marked}")
