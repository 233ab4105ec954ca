"""Every page of the menu and what it links to, opened in a real Chromium by people of different
roles: none throws a script error, logs a console error or fails to load something it asks for.
Script errors show nowhere else: the server answered 200."""

from __future__ import annotations

import re

import pytest

from app import demo
from app.demo.master import DEMO_PASSWORD
from tests.conftest import BACKEND, PROJECT_ROOT
from tests.e2e.conftest import DESKTOP, PHONE, sign_in

DOWNLOAD = re.compile(r"/export|\.(xlsx|csv|pdf)$|/attachments/")
#: The design pages are one page per form or report, record pages one per record: one of each
#: is opened.
DESIGN = re.compile(r"^(/admin/(forms|reports|workflows|options|dashboards))/[a-z0-9_]+/")
RECORD = re.compile(r"/\d+")
#: the menu's entries (a dropdown's too, not its toggle) and the page's own links
MENU_AND_PAGE_LINKS = (
    "#nav a.nav-link:not(.dropdown-toggle), #nav a.dropdown-item, main a[href^='/']:not([download])"
)


def links(page) -> list[str]:
    """Where the menu and the page link to, files to download (exports, attachments) aside."""
    found = page.eval_on_selector_all(MENU_AND_PAGE_LINKS, "found => found.map(a => a.pathname)")
    return [path for path in found if not DOWNLOAD.search(path)]


def crawl(page, live_server: str, depth: int) -> tuple[set[str], list[tuple]]:
    """Open the menu's pages and what they link to, ``depth`` links deep, one page of each shape
    (one record of each form, one editor of the design pages); returns the shapes opened and
    every script error, console error and failed request met on the way."""
    problems: list[tuple] = []
    page.on("pageerror", lambda error: problems.append((page.url, "script", str(error))))
    page.on(
        "console",
        lambda message: (
            message.type == "error" and problems.append((page.url, "console", message.text))
        ),
    )
    page.on(
        "response",
        lambda response: (
            response.status >= 400 and problems.append((page.url, response.status, response.url))
        ),
    )
    seen: set[str] = set()
    level = links(page)
    for _ in range(depth + 1):
        following = []
        for path in level:
            shape = RECORD.sub("/*", DESIGN.sub(r"\1/*/", path))
            if shape in seen:
                continue
            seen.add(shape)
            # loaded, and every request its scripts made (htmx marks the elements waiting for
            # one) answered: as good as "networkidle" for errors, without its 500 ms of quiet
            page.goto(live_server + path)
            page.wait_for_function("() => !document.querySelector('.htmx-request')")
            following += links(page)
        level = following
    return seen, problems


@pytest.mark.skipif(
    BACKEND == "postgres",
    reason="the pages' scripts are the same on either database: crawled once, on SQLite",
)
def test_no_page_throws_a_script_error(live_server, page_factory, db):
    """On a small demo chain (its documents in their states), as the administrator on a desktop
    and as a store clerk on a phone."""
    demo.load(db.transaction, PROJECT_ROOT / "metadata", PROJECT_ROOT / "workflows",
              demo.Options(stores=2, warehouses=1, items=10, days=10))  # fmt: skip
    with db.session() as session:
        clerk = next(name for role, name, _at in demo.logins(session) if role == "store_clerk")
    for username, screen in (("admin", DESKTOP), (clerk, PHONE)):
        page = page_factory(viewport=screen, locale="zh-CN")
        sign_in(page, live_server, username, DEMO_PASSWORD)
        seen, problems = crawl(page, live_server, depth=3)
        assert len(seen) > 60  # (116 and 73 pages when written)
        assert problems == []
