"""Sign-in through the real login form: language, CSRF, wrong passwords, sign-out."""

import pytest

from app.kernel.users import User
from tests.conftest import csrf_token


@pytest.fixture
def clerk(db):
    with db.transaction() as session:
        user = User(username="clerk", full_name="店员 刘洋", locale="zh_CN")
        user.set_password("correct horse")
        session.add(user)
    return user


def test_login_page_is_chinese_by_default(client):
    page = client.get("/login")
    assert page.status_code == 200
    assert "登录" in page.text
    assert 'lang="zh-CN"' in page.text


def test_login_page_follows_the_browser_language(client):
    page = client.get("/login", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert "Sign in" in page.text
    assert "登录" not in page.text


def test_home_redirects_to_login_when_signed_out(client):
    response = client.get("/")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_sign_in_and_out(client, login, clerk):
    response = login("clerk", "correct horse")
    assert response.status_code == 302
    home = client.get("/")
    assert "欢迎，店员 刘洋" in home.text
    response = client.post("/logout", data={"csrf_token": csrf_token(home.text)})
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused_with_a_message(client, login, clerk):
    response = login("clerk", "wrong")
    assert response.status_code == 401
    assert "用户名或密码错误" in response.text
    assert client.get("/").status_code == 302


def test_inactive_user_cannot_sign_in(client, login, db, clerk):
    with db.transaction() as session:
        session.get(User, clerk.id).active = False
    assert login("clerk", "correct horse").status_code == 401


def test_login_without_csrf_token_is_refused(client, clerk):
    response = client.post("/login", data={"username": "clerk", "password": "correct horse"})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def test_next_parameter_cannot_redirect_off_site(client, clerk):
    page = client.get("/login")
    response = client.post(
        "/login?next=https://evil.example/",
        data={
            "username": "clerk",
            "password": "correct horse",
            "csrf_token": csrf_token(page.text),
        },
    )
    assert response.headers["Location"] == "/"


def test_session_cookie_is_http_only(client, login, clerk):
    response = login("clerk", "correct horse")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_vendor_assets_are_served_locally_and_nothing_else(client):
    assert client.get("/vendor/bootstrap/dist/css/bootstrap.min.css").status_code == 200
    assert client.get("/vendor/htmx.org/dist/htmx.min.js").status_code == 200
    assert client.get("/vendor/bootstrap/package.json").status_code == 404
    assert client.get("/vendor/bootstrap/dist/../package.json").status_code == 404
