"""Every page of the menu, one level down (each form's new-record page, each report), opened in a
real Chromium by the head office: none throws a script error, logs a console error or fails to
load something it asks for. Script errors show nowhere else: the server answered 200."""

from __future__ import annotations

from tests.application.story_fixtures import story_fixture  # noqa: F401  (the fixture ``story``)
from tests.e2e.conftest import DESKTOP
from tests.e2e.test_story_browser import sign_in


def links(page, selector: str) -> list[str]:
    return page.eval_on_selector_all(selector, "found => found.map(a => a.pathname)")


def test_no_page_of_the_menu_throws_a_script_error(live_server, page_factory, story):
    page = page_factory(viewport=DESKTOP, locale="zh-CN")
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
    sign_in(page, live_server, "hq")
    menu = links(page, "#nav a.nav-link")
    assert len(menu) >= 8
    pages, seen = list(menu), set()
    while pages:
        path = pages.pop(0)
        if path in seen:
            continue
        seen.add(path)
        page.goto(live_server + path)
        page.wait_for_load_state("networkidle")
        if path in menu:  # one level down: the form's new record, the reports
            pages += links(page, "main a[href$='/new'], main a[href^='/reports/']")
    assert len(seen) > len(menu)
    assert problems == []
