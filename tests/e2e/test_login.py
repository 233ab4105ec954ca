"""Signing in with a real browser, on a phone and on a desktop."""

import pytest

from app.kernel.users import User
from tests.e2e.conftest import DESKTOP, PHONE


@pytest.fixture
def manager(db):
    with db.transaction() as session:
        user = User(username="manager", full_name="店长 张伟", locale="zh_CN")
        user.set_password("correct horse")
        session.add(user)


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_sign_in_in_the_browser(live_server, page_factory, manager, viewport, screenshot_dir):
    page = page_factory(viewport=viewport)
    page.goto(f"{live_server}/")
    assert page.url.endswith("/login?next=%2F")
    assert page.locator("button[type=submit]").inner_text() == "登录"
    page.fill("input[name=username]", "manager")
    page.fill("input[name=password]", "correct horse")
    page.screenshot(path=screenshot_dir / f"login-{viewport['width']}.png")
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server}/")
    assert "欢迎，店长 张伟" in page.locator("h1").inner_text()
    # Bootstrap really loaded from our own server: the navbar is styled, not a bare list.
    background = page.evaluate(
        "getComputedStyle(document.querySelector('nav.navbar')).backgroundColor"
    )
    assert background != "rgba(0, 0, 0, 0)"


def test_wrong_password_shows_the_error_in_english(live_server, page_factory, manager):
    page = page_factory(locale="en-US")
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", "manager")
    page.fill("input[name=password]", "nope")
    page.click("button[type=submit]")
    assert "Wrong username or password." in page.locator(".alert").inner_text()
