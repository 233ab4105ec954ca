"""Identity through the HTTP surface: sign-in lockout, CSRF, tokens, admin pages, audit page."""

import csv
import datetime as dt
import io
import re

import pytest
from sqlalchemy import select, update

from app.db import utcnow
from app.kernel import audit
from app.kernel.audit import AuditEntry
from app.kernel.tokens import ApiToken, hash_token
from app.kernel.users import MAX_FAILED_LOGINS, User
from tests.chain import MARKERS_B, PASSWORD, issue, make_chain
from tests.conftest import csrf_token, without_csrf_token


@pytest.fixture
def chain(db):
    return make_chain(db)


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def _entries(db, **filters):
    with db.session() as session:
        return session.scalars(audit.search(**filters).order_by(None).order_by(AuditEntry.id)).all()


# --- sign-in ------------------------------------------------------------------------------------


def test_login_and_logout_are_audited_with_request_and_address(client, login, db, chain):
    assert login("clerk_a", PASSWORD).status_code == 302
    home = client.get("/")
    client.post("/logout", data={"csrf_token": csrf_token(home.text)})
    assert login("clerk_a", "wrong password").status_code == 401
    entries = _entries(db, username="clerk_a")
    assert [entry.action for entry in entries] == ["login", "logout", "login_failed"]
    assert all(entry.user_id == chain.users["clerk_a"] for entry in entries)
    assert all(entry.request_id and entry.client_addr == "127.0.0.1" for entry in entries)
    assert len({entry.request_id for entry in entries}) == 3


def test_repeated_failures_lock_the_account_and_the_lock_expires(client, login, db, chain):
    for _ in range(MAX_FAILED_LOGINS - 1):
        assert "用户名或密码错误" in login("clerk_a", "wrong password").text
    locked = login("clerk_a", "wrong password")
    assert locked.status_code == 401
    assert "登录失败次数过多" in locked.text
    assert "15" in locked.text
    refused = login("clerk_a", PASSWORD)  # the right password does not open a locked account
    assert refused.status_code == 401
    assert client.get("/").status_code == 302
    assert [e.action for e in _entries(db, action="lockout")] == ["lockout"]
    with db.transaction() as session:  # fifteen minutes later ...
        session.execute(
            update(User).where(User.username == "clerk_a").values(locked_until=User.created_at)
        )
    assert login("clerk_a", PASSWORD).status_code == 302
    assert client.get("/").status_code == 200


def test_api_only_accounts_cannot_use_the_pages(client, login, db, chain):
    response = login("integrator", PASSWORD)
    assert response.status_code == 403
    assert "只能通过令牌使用 API" in response.text
    assert client.get("/").status_code == 302
    [refused] = _entries(db, username="integrator")
    assert (refused.action, refused.reason) == ("login_refused", "api_only")


def test_a_signed_in_user_whose_roles_become_api_only_loses_the_pages(client, login, db, chain):
    login("clerk_a", PASSWORD)
    assert client.get("/").status_code == 200
    with db.transaction() as session:
        from app.meta import identity

        identity.update_user(session, session.get(User, chain.users["clerk_a"]),
                             roles=["integrator"])  # fmt: skip
    assert client.get("/").status_code == 403
    assert client.get("/account/password").status_code == 403


def test_state_changing_forms_need_the_csrf_token(client, login, db, chain):
    login("admin", PASSWORD)
    response = client.post(
        f"/admin/users/{chain.users['clerk_a']}",
        data={"full_name": "hijacked", "locale": "en", "roles": ["admin"]},
    )
    assert response.status_code == 400
    response = client.post(
        "/account/password",
        data={"current": PASSWORD, "password": "another good one", "confirm": "another good one"},
    )
    assert response.status_code == 400
    with db.session() as session:
        assert session.get(User, chain.users["clerk_a"]).role_names == ["store_clerk"]
        assert session.get(User, chain.users["admin"]).check_password(PASSWORD)


def test_session_cookie_flags_follow_the_secure_setting(db, app_config):
    from app import create_app

    app = create_app({**app_config, "SECURE_COOKIES": "1"})
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_HTTPONLY"] is True
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    app.extensions["lianku.db"].dispose()


def test_private_pages_are_not_cached_nor_framed(client, login, chain):
    login("admin", PASSWORD)
    page = client.get("/admin/tokens")
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    asset = client.get("/vendor/bootstrap/dist/css/bootstrap.min.css")
    assert "no-store" not in asset.headers.get("Cache-Control", "")


# --- change password ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("new", "message"),
    [
        ("short", "密码长度至少为 10 个字符"),
        ("12345678901", "密码不能全部由数字组成"),
        ("clerk_a-is-me", "密码不能包含用户名"),
    ],
)
def test_change_password_names_the_broken_rule(client, login, chain, new, message):
    login("clerk_a", PASSWORD)
    page = client.get("/account/password")
    response = client.post(
        "/account/password",
        data={"current": PASSWORD, "password": new, "confirm": new,
              "csrf_token": csrf_token(page.text)},
    )  # fmt: skip
    assert response.status_code == 422
    assert message in response.text


def test_change_password_in_english_and_then_sign_in_with_it(client, login, db, chain):
    with db.transaction() as session:
        session.get(User, chain.users["clerk_a"]).locale = "en"
    login("clerk_a", PASSWORD)
    page = client.get("/account/password")
    wrong = client.post(
        "/account/password",
        data={"current": "nope nope nope", "password": "brand new secret", "confirm":
              "brand new secret", "csrf_token": csrf_token(page.text)},
    )  # fmt: skip
    assert "The current password is wrong." in wrong.text
    done = client.post(
        "/account/password",
        data={"current": PASSWORD, "password": "brand new secret", "confirm": "brand new secret",
              "csrf_token": csrf_token(page.text)},
    )  # fmt: skip
    assert done.status_code == 302
    assert [e.action for e in _entries(db, action="password_change")] == ["password_change"]
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/").text)})
    assert login("clerk_a", "brand new secret").status_code == 302


def test_users_choose_their_own_language(client, login, db, chain):
    login("clerk_a", PASSWORD)
    page = client.get("/account")
    assert "SH01" in page.text and "门店店员" in page.text
    response = client.post("/account", data={"locale": "en", "csrf_token": csrf_token(page.text)})
    assert response.status_code == 302
    assert "Store clerk" in client.get("/account").text
    assert (
        client.post(
            "/account", data={"locale": "fr", "csrf_token": csrf_token(page.text)}
        ).status_code
        == 200
    )
    [change] = _entries(db, entity="user", entity_id=chain.users["clerk_a"], action="update")[-1:]
    assert change.changes == {"locale": ["zh_CN", "en"]}
    assert change.username == "clerk_a"


# --- admin pages --------------------------------------------------------------------------------


def test_admin_creates_and_edits_a_user_and_the_changes_are_audited(client, login, db, chain):
    login("admin", PASSWORD)
    page = client.get("/admin/users/new")
    assert page.status_code == 200 and "门店店员" in page.text  # the roles, in the admin's language
    weak = client.post(
        "/admin/users/new",
        data={"username": "dora", "full_name": "Dora", "password": "dora", "locale": "zh_CN",
              "roles": ["store_clerk"], "csrf_token": csrf_token(page.text)},
    )  # fmt: skip
    assert weak.status_code == 422
    assert "密码长度至少为 10 个字符" in weak.text
    created = client.post(
        "/admin/users/new",
        data={"username": "dora", "full_name": "Dora", "password": "a long secret phrase",
              "locale": "zh_CN", "active": "y", "roles": ["store_clerk"],
              "locations": [str(chain.loc("HZ01"))], "csrf_token": csrf_token(page.text)},
    )  # fmt: skip
    assert created.status_code == 302, re.findall(r"invalid-feedback[^>]*>([^<]+)", created.text)
    with db.session() as session:
        dora = session.scalar(select(User).where(User.username == "dora"))
        assert dora.role_names == ["store_clerk"]
        assert [loc.code for loc in dora.locations] == ["HZ01"]
    edit = client.get(f"/admin/users/{dora.id}")
    saved = client.post(
        f"/admin/users/{dora.id}",
        data={"full_name": "Dora Z", "locale": "en", "active": "y",
              "roles": ["store_manager"], "locations": [str(chain.loc("SH01"))],
              "csrf_token": csrf_token(edit.text)},
    )  # fmt: skip
    assert saved.status_code == 302
    [*_, change] = _entries(db, entity="user", entity_id=dora.id)
    assert change.action == "update"
    assert change.username == "admin"
    assert change.changes == {
        "full_name": ["Dora", "Dora Z"],
        "locale": ["zh_CN", "en"],
        "roles": [["store_clerk"], ["store_manager"]],
        "locations": [["HZ01"], ["SH01"]],
    }
    listing = client.get("/admin/users")
    assert "Dora Z" in listing.text
    history = client.get(f"/admin/users/{dora.id}").text.split("历史记录")[1]
    assert "roles：store_clerk → store_manager" in history
    assert "locations：HZ01 → SH01" in history


def test_admin_cannot_assign_an_unknown_role(client, login, db, chain):
    login("admin", PASSWORD)
    edit = client.get(f"/admin/users/{chain.users['clerk_a']}")
    response = client.post(
        f"/admin/users/{chain.users['clerk_a']}",
        data={"full_name": "x", "locale": "zh_CN", "roles": ["overlord"],
              "csrf_token": csrf_token(edit.text)},
    )  # fmt: skip
    assert response.status_code == 422
    with db.session() as session:
        assert session.get(User, chain.users["clerk_a"]).role_names == ["store_clerk"]


def test_an_admin_cannot_lock_themselves_out(client, login, db, chain):
    login("admin", PASSWORD)
    edit = client.get(f"/admin/users/{chain.users['admin']}")
    for data, message in (
        ({"roles": ["store_clerk"], "active": "y"}, "不能取消自己的管理员权限"),
        ({"roles": ["admin"]}, "不能停用自己"),
    ):
        response = client.post(
            f"/admin/users/{chain.users['admin']}",
            data={"full_name": "A", "locale": "zh_CN", "csrf_token": csrf_token(edit.text),
                  **data},
        )  # fmt: skip
        assert response.status_code == 422
        assert message in response.text
    with db.session() as session:
        admin = session.get(User, chain.users["admin"])
        assert admin.role_names == ["admin"] and admin.active


def test_admin_resets_a_password_and_lifts_a_lockout(client, login, db, chain):
    with db.transaction() as session:
        session.execute(
            update(User)
            .where(User.username == "clerk_a")
            .values(locked_until=utcnow() + dt.timedelta(minutes=10))
        )
    login("admin", PASSWORD)
    edit = client.get(f"/admin/users/{chain.users['clerk_a']}")
    response = client.post(
        f"/admin/users/{chain.users['clerk_a']}/password",
        data={"password": "a fresh password", "csrf_token": csrf_token(edit.text)},
    )
    assert response.status_code == 302
    with db.session() as session:
        user = session.get(User, chain.users["clerk_a"])
        assert user.check_password("a fresh password")
        assert user.locked_until is None
    assert [e.action for e in _entries(db, action="password_reset")] == ["password_reset"]


def test_non_admins_get_no_admin_pages(client, login, chain):
    login("manager_a", PASSWORD)
    assert client.get("/admin/users").status_code == 403
    assert client.get("/admin/tokens").status_code == 403
    assert client.get("/api/v1/admin/tokens").status_code == 403
    assert "/admin/users" not in client.get("/").text


# --- API tokens ---------------------------------------------------------------------------------


def test_a_token_is_shown_once_stored_hashed_and_works_at_once(client, login, db, chain):
    login("admin", PASSWORD)
    page = client.get("/admin/tokens")
    created = client.post(
        "/admin/tokens",
        data={"name": "wms", "role": "store_clerk", "locations": [str(chain.loc("SH01"))],
              "csrf_token": csrf_token(page.text)},
    )  # fmt: skip
    plaintext = re.search(r'id="issued-token">([^<]+)<', created.text).group(1)
    assert plaintext not in client.get("/admin/tokens").text  # shown once only
    with db.session() as session:
        token = session.scalar(select(ApiToken).where(ApiToken.name == "wms"))
        assert token.token_hash == hash_token(plaintext)
        assert plaintext not in (token.token_hash, token.hint)
        assert token.last_used_at is None
    api = client.application.test_client()
    answer = api.get("/api/v1/lookup/location", headers=bearer(plaintext))
    assert answer.status_code == 200
    assert [row["code"] for row in answer.json["results"]] == ["SH01"]
    with db.session() as session:
        assert session.get(ApiToken, token.id).last_used_at is not None
    assert [e.action for e in _entries(db, entity="api_token", entity_id=token.id)] == ["create"]


def test_revoking_a_token_takes_effect_immediately(client, login, db, chain):
    token_id, plaintext = chain.tokens["b"]
    api = client.application.test_client()
    assert api.get("/api/v1/lookup/location", headers=bearer(plaintext)).status_code == 200
    login("admin", PASSWORD)
    page = client.get("/admin/tokens")
    assert (
        client.post(
            f"/admin/tokens/{token_id}/revoke", data={"csrf_token": csrf_token(page.text)}
        ).status_code
        == 302
    )
    refused = api.get("/api/v1/lookup/location", headers=bearer(plaintext))
    assert refused.status_code == 401
    assert refused.json["error"] == "unauthorized"
    [revoked] = _entries(db, entity="api_token", action="revoke")
    assert revoked.username == "admin"


def test_a_token_stops_working_when_it_expires_and_the_401_says_so(client, login, db, chain):
    login("admin", PASSWORD)
    page = client.get("/admin/tokens")
    assert 'name="valid_days"' in page.text
    created = client.post(
        "/admin/tokens",
        data={"name": "pos", "role": "store_clerk", "locations": [str(chain.loc("SH01"))],
              "valid_days": "30", "csrf_token": csrf_token(page.text)},
    )  # fmt: skip
    plaintext = re.search(r'id="issued-token">([^<]+)<', created.text).group(1)
    with db.session() as session:
        token = session.scalar(select(ApiToken).where(ApiToken.name == "pos"))
        assert dt.timedelta(days=29) < token.expires_at - utcnow() <= dt.timedelta(days=30)
    api = client.application.test_client()
    assert api.get("/api/v1/lookup/location", headers=bearer(plaintext)).status_code == 200
    with db.transaction() as session:
        session.get(ApiToken, token.id).expires_at = utcnow() - dt.timedelta(seconds=1)
    refused = api.get("/api/v1/lookup/location", headers={**bearer(plaintext),
                                                           "Accept-Language": "en"})  # fmt: skip
    assert refused.status_code == 401
    assert refused.json["message"].startswith("This API token expired at ")
    assert refused.json["message"].endswith(": ask your administrator for a new one.")
    assert "data-expired" in client.get("/admin/tokens").text
    [entry] = _entries(db, entity="api_token", entity_id=token.id)
    assert entry.changes["expires_at"]  # the audit trail says how long it was issued for


def test_a_revoked_token_is_told_so(client, db, chain):
    token_id, plaintext = chain.tokens["b"]
    with db.transaction() as session:
        session.get(ApiToken, token_id).revoked_at = utcnow()
    api = client.application.test_client()
    refused = api.get("/api/v1/lookup/location", headers={**bearer(plaintext),
                                                           "Accept-Language": "zh-CN"})  # fmt: skip
    assert refused.status_code == 401
    assert refused.json["message"] == "此 API 令牌已被吊销：请向管理员申请新的令牌。"


def test_token_admin_through_the_api(db, client, chain):
    _admin_id, admin_token = issue(db, "ops", "admin", ["HQ"])
    api = client.application.test_client()
    created = api.post(
        "/api/v1/admin/tokens",
        json={"name": "pos", "role": "store_clerk", "locations": ["SH01"]},
        headers=bearer(admin_token),
    )  # no CSRF token needed: the request is the Bearer token's
    assert created.status_code == 201
    assert created.json["token"].startswith("lk_")
    assert created.json["locations"] == ["SH01"]
    expires = dt.datetime.fromisoformat(created.json["expires_at"])  # a year unless told
    assert dt.timedelta(days=364) < expires - utcnow() <= dt.timedelta(days=365)
    forever = api.post("/api/v1/admin/tokens", headers=bearer(admin_token),
                       json={"name": "bi", "role": "auditor", "valid_days": None})  # fmt: skip
    assert forever.status_code == 201 and forever.json["expires_at"] is None
    listed = api.get("/api/v1/admin/tokens", headers=bearer(admin_token)).json["tokens"]
    assert "token" not in listed[-2] and listed[-2]["name"] == "pos"
    bad = api.post(
        "/api/v1/admin/tokens", json={"name": "x", "role": "overlord"}, headers=bearer(admin_token)
    )
    assert bad.status_code == 422 and bad.json["field"] == "role"
    revoked = api.delete(f"/api/v1/admin/tokens/{created.json['id']}", headers=bearer(admin_token))
    assert revoked.status_code == 200 and revoked.json["revoked_at"]
    pos = api.get("/api/v1/lookup/location", headers=bearer(created.json["token"]))
    assert pos.status_code == 401
    # a token that was never issued (mistyped, cut short) is told so, not asked to sign in
    mistyped = {**bearer(created.json["token"][:-4]), "Accept-Language": "en"}
    unknown = api.get("/api/v1/lookup/location", headers=mistyped)
    assert unknown.status_code == 401
    assert unknown.json["message"].startswith("This API token is not known")


def test_token_input_of_the_wrong_shape_is_a_422_naming_the_field(db, client, chain):
    _admin_id, admin_token = issue(db, "ops", "admin", ["HQ"])
    api = client.application.test_client()
    good = {"name": "pos", "role": "store_clerk", "locations": ["SH01"]}
    for change, field in (
        ({"locations": [{"code": "SH01"}]}, "locations"),
        ({"locations": [["SH01"]]}, "locations"),
        ({"name": ["x"]}, "name"),
        ({"name": "n" * 300}, "name"),
        ({"role": ["store_clerk"]}, "role"),
        ({"valid_days": "30"}, "valid_days"),
        ({"valid_days": 0}, "valid_days"),
        ({"valid_days": 3651}, "valid_days"),
        ({"valid_days": True}, "valid_days"),
    ):
        response = api.post("/api/v1/admin/tokens", json={**good, **change},
                            headers=bearer(admin_token))  # fmt: skip
        assert response.status_code == 422 and response.json["field"] == field, change
    too_large = api.delete(f"/api/v1/admin/tokens/{10**30}", headers=bearer(admin_token))
    assert too_large.status_code == 404 and too_large.is_json


def test_a_token_answers_in_the_language_the_request_asks_for(db, client, chain):
    _id, plaintext = chain.tokens["b"]
    api = client.application.test_client()
    english = {**bearer(plaintext), "Accept-Language": "en"}
    assert api.get("/api/v1/admin/tokens", headers=english).json["message"] == (
        "You are not allowed to do this."
    )
    chinese = {**bearer(plaintext), "Accept-Language": "zh-CN,zh;q=0.9"}
    assert api.get("/api/v1/admin/tokens", headers=chinese).json["message"] == "您无权执行此操作。"


def test_a_tokens_scope_limits_it_like_a_users(db, client, chain):
    _id, plaintext = chain.tokens["b"]  # store_clerk at BJ01
    api = client.application.test_client()
    found = api.get("/api/v1/lookup/location?q=上海", headers=bearer(plaintext))
    assert found.json["results"] == []
    own = api.get("/api/v1/lookup/location", headers=bearer(plaintext)).json["results"]
    assert [row["code"] for row in own] == ["BJ01"]
    assert api.get("/api/v1/admin/tokens", headers=bearer(plaintext)).status_code == 403


def test_tokens_do_not_open_the_html_pages_and_bad_tokens_are_refused(client, chain):
    _id, plaintext = chain.tokens["b"]
    page = client.get("/", headers=bearer(plaintext))  # answered as a program: no sign-in page
    assert page.status_code == 401 and "/api/" in page.json["message"]
    answer = client.get("/api/v1/lookup/location", headers=bearer("lk_not-a-real-token"))
    assert answer.status_code == 401
    assert client.get("/api/v1/lookup/location").status_code == 401


def test_a_bearer_header_never_rides_on_a_session_cookie(client, login, chain):
    login("admin", PASSWORD)
    assert client.get("/api/v1/admin/tokens").status_code == 200
    response = client.get("/api/v1/admin/tokens", headers=bearer("lk_forged"))
    assert response.status_code == 401
    # ... so skipping the CSRF check for Bearer requests cannot be abused by a cookie holder
    response = client.post(
        "/api/v1/admin/tokens", json={"name": "x", "role": "admin"}, headers=bearer("lk_forged")
    )
    assert response.status_code == 401


# --- scoped lookup and the audit page -----------------------------------------------------------


def test_the_location_lookup_is_scoped(client, login, chain):
    login("clerk_a", PASSWORD)
    answer = client.get("/api/v1/lookup/location?q=")
    assert [row["code"] for row in answer.json["results"]] == ["SH01"]
    for query in ("BJ01", "北京", "%", "_"):
        text = client.get(f"/api/v1/lookup/location?q={query}").text
        assert not any(marker in text for marker in MARKERS_B), query


def test_the_user_lookup_offers_only_colleagues(client, login, chain):
    login("clerk_a", PASSWORD)
    answer = client.get("/api/v1/lookup/user?q=")
    assert {row["username"] for row in answer.json["results"]} == {"clerk_a", "manager_a"}
    assert {"value", "label"} <= set(answer.json["results"][0])
    for query in ("clerk_b", "Bob", "北京", "_b"):
        text = client.get(f"/api/v1/lookup/user?q={query}").text
        assert not any(marker in text for marker in MARKERS_B), query
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/").text)})
    login("auditor", PASSWORD)  # scope all: everyone
    names = {row["username"] for row in client.get("/api/v1/lookup/user?limit=100").json["results"]}
    assert {"clerk_a", "clerk_b", "admin"} <= names


def test_the_audit_page_filters_paginates_and_exports(client, login, db, chain):
    login("clerk_a", PASSWORD)
    assert client.get("/audit").status_code == 403
    assert client.get("/audit/export.csv").status_code == 403
    client.post("/logout", data={"csrf_token": csrf_token(client.get("/").text)})
    login("auditor", PASSWORD)
    page = client.get("/audit?user=clerk_a")
    assert page.status_code == 200
    assert "login" in page.text and "logout" in page.text
    # the times are on the business clock, and the header says which (it once said UTC)
    assert "Asia/Shanghai" in page.text.split("<tbody>")[0]
    assert "UTC" not in without_csrf_token(page.text)
    assert "create" not in page.text.split("<tbody>")[1]  # only clerk_a's entries
    filtered = client.get(f"/audit?entity=user&entity_id={chain.users['clerk_a']}&action=create")
    assert "clerk_a" not in filtered.text.split("<tbody>")[1] or "create" in filtered.text
    export = client.get("/audit/export.csv?user=clerk_a&date_from=2000-01-01&date_to=2999-12-31")
    assert export.status_code == 200
    assert export.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(export.text.lstrip("\ufeff"))))
    assert [row["action"] for row in rows] == ["logout", "login"]
    assert {row["username"] for row in rows} == {"clerk_a"}
    none = client.get("/audit/export.csv?date_to=2000-01-01")
    assert len(list(csv.reader(io.StringIO(none.text)))) == 1  # the header only


def test_the_audit_page_pages_through_many_entries(client, login, db, chain):
    with db.transaction() as session:
        for number in range(60):
            audit.record(session, "update", "item", number)
    login("auditor", PASSWORD)
    first = client.get("/audit?entity=item")
    assert "1 / 2" in first.text
    second = client.get("/audit?entity=item&page=2")
    assert second.text.count("<tr>") - 1 == 10


def test_a_long_client_chosen_request_id_does_not_break_sign_in(client, db, chain):
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"username": "clerk_a", "password": PASSWORD, "csrf_token": csrf_token(page.text)},
        headers={"X-Request-ID": "x" * 500},
    )
    assert response.status_code == 302
    [entry] = _entries(db, action="login")
    assert entry.request_id == "x" * 64


def test_a_token_exports_a_report_under_the_api_and_is_told_so_off_it(db, client, chain):
    """An integration downloads a report's file with its token; a page's URL answers it as a
    program (401 saying where tokens work), never with a sign-in page and 200."""
    _user, token = issue(db, "erp", "store_manager", ["SH01"])
    api = client.application.test_client()
    response = api.get("/api/v1/reports/stock_on_hand/export.csv", headers=bearer(token))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/csv"
    unknown = api.get("/api/v1/reports/nothing/export.csv", headers=bearer(token))
    assert unknown.status_code == 404 and unknown.json["message"]
    page = api.get("/reports/stock_on_hand/export.csv", headers=bearer(token))
    assert page.status_code == 401
    assert "/api/" in page.json["message"]  # in the token user's language
