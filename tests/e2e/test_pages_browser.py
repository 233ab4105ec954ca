"""Every page of the menu and what it links to, opened in a real Chromium by people of different
roles: none throws a script error, logs a console error or fails to load something it asks for.
Script errors show nowhere else: the server answered 200."""

from __future__ import annotations

import re

import pytest

from tests.application.purchasing_fixtures import make_bed
from tests.e2e.conftest import DESKTOP, PHONE
from tests.e2e.test_story_browser import sign_in

DOWNLOAD = re.compile(r"/export|\.(xlsx|csv|pdf)$|/attachments/")
#: The design pages are one page per form or report: one of each is opened.
DESIGN = re.compile(r"^(/admin/(forms|reports))/[a-z0-9_]+/")
#: role → (location, language, screen)
PEOPLE = {
    "admin": ("HQ", "en", DESKTOP),  # (every page the head office sees, and the design pages)
    "store_clerk": ("SH01", "zh_CN", PHONE),
}


def links(page) -> list[str]:
    """Where the menu and the page link to, files to download (exports, attachments) aside."""
    found = page.eval_on_selector_all(
        "#nav a.nav-link, main a[href^='/']:not([download])", "found => found.map(a => a.pathname)"
    )
    return [path for path in found if not DOWNLOAD.search(path)]


@pytest.mark.parametrize("role", PEOPLE)
def test_no_page_of_the_menu_throws_a_script_error(live_server, page_factory, app, db, role):
    code, language, screen = PEOPLE[role]
    make_bed(app, db, {"someone": (role, code, language)})
    page = page_factory(viewport=screen, locale=language.replace("_", "-"))
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
    sign_in(page, live_server, "someone")
    menu = set(links(page))
    pages, seen = sorted(menu), set()
    while pages:  # the menu, and one level down: each form's new record, each report …
        path = pages.pop(0)
        shape = DESIGN.sub(r"\1/*/", path)
        if shape in seen:
            continue
        seen.add(shape)
        page.goto(live_server + path)
        page.wait_for_load_state("networkidle")
        if path in menu:
            pages += links(page)
    assert len(seen) > len(menu) > 5
    assert problems == []
