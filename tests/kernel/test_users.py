"""Sign-in rules at the kernel: lockout and its expiry, password policy, audited changes."""

import datetime as dt

import pytest
from sqlalchemy import select

from app.db import utcnow
from app.kernel import audit, users
from app.kernel.audit import AuditEntry
from app.kernel.users import User
from tests.chain import PASSWORD, make_chain


@pytest.fixture
def chain(db):
    return make_chain(db, usernames=("clerk_a",), token_b=False)


def _actions(session, entity_id=None):
    query = select(AuditEntry.action).order_by(AuditEntry.id)
    if entity_id is not None:
        query = query.where(AuditEntry.entity == "user", AuditEntry.entity_id == str(entity_id))
    return list(session.scalars(query))


def _try(db, password, now=None):
    with db.transaction() as session:
        try:
            return users.authenticate(session, "clerk_a", password, now=now)
        except users.SignInRefused as refused:
            return refused


def test_successful_sign_in_is_audited_and_resets_the_counter(db, chain):
    assert isinstance(_try(db, "wrong"), users.WrongCredentials)
    user = _try(db, PASSWORD)
    assert isinstance(user, User)
    with db.session() as session:
        assert session.get(User, user.id).failed_logins == 0
        assert _actions(session, user.id)[-2:] == ["login_failed", "login"]
        entry = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert (entry.user_id, entry.username) == (user.id, "clerk_a")


def test_five_failures_lock_the_account_for_fifteen_minutes(db, chain):
    now = utcnow()
    for _ in range(users.MAX_FAILED_LOGINS - 1):
        assert isinstance(_try(db, "wrong", now), users.WrongCredentials)
    locked = _try(db, "wrong", now)
    assert isinstance(locked, users.AccountLocked)
    assert "15" in str(locked)
    # Even the right password is refused while locked ...
    assert isinstance(_try(db, PASSWORD, now + dt.timedelta(minutes=14)), users.AccountLocked)
    # ... and accepted once the lock has expired.
    assert isinstance(_try(db, PASSWORD, now + dt.timedelta(minutes=15, seconds=1)), User)
    with db.session() as session:
        actions = _actions(session, chain.users["clerk_a"])
        assert actions.count("login_failed") == 5
        assert actions.count("lockout") == 1
        assert "login_refused" in actions
        assert actions[-1] == "login"


def test_unknown_users_are_refused_the_same_way_and_audited(db, chain):
    with db.transaction() as session, pytest.raises(users.WrongCredentials):
        users.authenticate(session, "nobody", "whatever")
    with db.session() as session:
        entry = session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
        assert (entry.action, entry.username, entry.reason) == (
            "login_failed", "nobody", "unknown user",
        )  # fmt: skip


def test_many_failures_from_one_address_throttle_it(db, chain, monkeypatch):
    monkeypatch.setattr(
        audit, "context_provider", lambda: audit.AuditContext(client_addr="192.0.2.7")
    )
    for number in range(users.MAX_FAILED_LOGINS_PER_ADDRESS):
        with db.transaction() as session, pytest.raises(users.WrongCredentials):
            users.authenticate(session, f"guess{number}", "whatever")
    with db.transaction() as session, pytest.raises(users.AddressThrottled):
        users.authenticate(session, "clerk_a", PASSWORD)
    later = utcnow() + users.LOCKOUT + dt.timedelta(seconds=1)
    assert isinstance(_try(db, PASSWORD, later), User)  # the address may try again later
    monkeypatch.setattr(
        audit, "context_provider", lambda: audit.AuditContext(client_addr="192.0.2.8")
    )
    assert isinstance(_try(db, PASSWORD), User)  # other addresses were never throttled


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("short1", "at least 10 characters"),
        ("12345678901234", "digits only"),
        ("my-clerk_a-password", "username"),
        ("MY-CLERK_A-PASSWORD", "username"),
    ],
)
def test_password_policy_names_the_rule(password, rule):
    with pytest.raises(users.PasswordPolicyViolation, match=rule):
        users.check_password_policy("clerk_a", password)


def test_password_policy_accepts_a_good_password():
    users.check_password_policy("clerk_a", "correct horse battery")
    users.check_password_policy("clerk_a", "1234567890x")


def test_change_password_needs_the_current_one(db, chain):
    with db.transaction() as session:
        user = session.get(User, chain.users["clerk_a"])
        with pytest.raises(users.PasswordPolicyViolation) as wrong:
            users.change_password(session, user, "not it", "a new good password")
        assert wrong.value.field == "current"
        users.change_password(session, user, PASSWORD, "a new good password")
    with db.session() as session:
        user = session.get(User, chain.users["clerk_a"])
        assert user.check_password("a new good password")
        assert _actions(session, user.id)[-1] == "password_change"
        assert "a new good password" not in str(audit.history(session, "user", user.id))


def test_update_user_records_old_and_new_values(db, chain):
    with db.transaction() as session:
        user = session.get(User, chain.users["clerk_a"])
        changes = users.update_user(
            session, user, roles=["store_manager", "qa"],
            location_ids=[chain.loc("BJ01")], locale="en", active=False,
        )  # fmt: skip
    assert changes == {
        "locale": ["zh_CN", "en"],
        "active": [True, False],
        "roles": [["store_clerk"], ["qa", "store_manager"]],
        "locations": [["SH01"], ["BJ01"]],
    }
    with db.session() as session:
        [*_, last] = audit.history(session, "user", chain.users["clerk_a"])
        assert last.action == "update"
        assert last.changes["roles"] == [["store_clerk"], ["qa", "store_manager"]]
        assert last.changes["locations"] == [["SH01"], ["BJ01"]]
        user = session.get(User, chain.users["clerk_a"])
        assert user.role_names == ["qa", "store_manager"]
    with db.transaction() as session:  # the same values again: nothing changes, nothing recorded
        user = session.get(User, chain.users["clerk_a"])
        before = len(audit.history(session, "user", user.id))
        assert users.update_user(session, user, roles=["qa", "store_manager"]) == {}
        assert len(audit.history(session, "user", user.id)) == before
