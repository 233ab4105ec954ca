"""Users: who signs in and who is named on every ledger row and audit entry.

Passwords are hashed with Argon2id (argon2-cffi); the hash string carries its own parameters, so
they can be raised later and old hashes rehashed at the next successful sign-in.

A user holds role names (checked against ``metadata/roles.yaml`` by the metadata engine, which
calls ``set_roles`` here) and assigned locations; the data scope is computed from both in
``app.meta.access``. Sign-in, lockout and password changes live here, not in a view, because they
are rules a regulator asks about and each of them leaves an audit entry.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, Column, ForeignKey, Integer, String, Table, func, literal, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from app.db import Base, UTCDateTime, utcnow
from app.i18n import _
from app.kernel import audit
from app.kernel.locations import Location

#: Argon2id with argon2-cffi's recommended parameters (~0.2 s per hash on 2 cores). The test
#: suite swaps in a cheap hasher; production never does.
password_hasher = PasswordHasher()

#: Failed sign-ins in a row that lock an account, and for how long.
MAX_FAILED_LOGINS = 5
LOCKOUT = dt.timedelta(minutes=15)
#: Failed sign-ins from one client address (any usernames) within ``LOCKOUT`` that make that
#: address wait: guessing across many usernames is throttled too.
MAX_FAILED_LOGINS_PER_ADDRESS = 20
PASSWORD_MIN_LENGTH = 10

user_locations = Table(
    "user_locations",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("location_id", ForeignKey("locations.id"), primary_key=True),
)


class UserRole(Base):
    """One role name held by a user (names come from ``metadata/roles.yaml``)."""

    __tablename__ = "user_roles"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(64), primary_key=True)


def holding(session: Session, roles, location: Location | None) -> set[int]:
    """The ids of the users holding one of ``roles`` at ``location`` or above it (QA at HQ hears
    of a store's record; every holder when there is no location)."""
    query = select(UserRole.user_id).where(UserRole.role.in_(list(roles)))
    if location is not None:
        query = (
            query.join(user_locations, user_locations.c.user_id == UserRole.user_id)
            .join(Location, Location.id == user_locations.c.location_id)
            .where(literal(location.path).startswith(Location.path))
        )
    return set(session.scalars(query))


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(128))
    password_hash: Mapped[str] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    locale: Mapped[str] = mapped_column(String(16), default="zh_CN")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    role_rows: Mapped[list[UserRole]] = relationship(
        cascade="all, delete-orphan", order_by=UserRole.role, lazy="selectin"
    )
    locations: Mapped[list[Location]] = relationship(
        secondary=user_locations, order_by=Location.code, lazy="selectin"
    )

    def __repr__(self) -> str:
        return f"<User {self.username}>"

    @property
    def role_names(self) -> list[str]:
        return sorted(row.role for row in self.role_rows)

    @property
    def location_ids(self) -> list[int]:
        return sorted(location.id for location in self.locations)

    @property
    def is_api_token(self) -> bool:
        return False

    def set_password(self, password: str) -> None:
        self.password_hash = password_hasher.hash(password)
        self.password_changed_at = utcnow()

    def check_password(self, password: str) -> bool:
        try:
            return password_hasher.verify(self.password_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def is_locked(self, now: dt.datetime | None = None) -> bool:
        return self.locked_until is not None and self.locked_until > (now or utcnow())

    # Flask-Login's user protocol, kept here so the web layer needs no wrapper class.
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


# --- errors -------------------------------------------------------------------------------------


class SignInRefused(Exception):
    """A sign-in was refused; the message is safe to show (it never says which part was wrong)."""


class WrongCredentials(SignInRefused):
    def __init__(self):
        super().__init__(_("Wrong username or password."))


class AccountLocked(SignInRefused):
    def __init__(self, until: dt.datetime, now: dt.datetime):
        minutes = max(1, int((until - now).total_seconds() + 59) // 60)
        self.until = until
        super().__init__(
            _(
                "Too many failed sign-ins: this account is locked for %(minutes)s more minute(s).",
                minutes=minutes,
            )
        )


class AddressThrottled(SignInRefused):
    def __init__(self):
        super().__init__(
            _("Too many failed sign-ins from this address: please wait 15 minutes and try again.")
        )


class PasswordPolicyViolation(ValueError):
    """A new password breaks one rule of the policy; the message names the rule."""

    def __init__(self, message: str, field: str = "password"):
        self.field = field
        super().__init__(message)


# --- password policy ----------------------------------------------------------------------------


def check_password_policy(username: str, password: str) -> None:
    """Raise ``PasswordPolicyViolation`` naming the first rule ``password`` breaks."""
    if len(password) < PASSWORD_MIN_LENGTH:
        raise PasswordPolicyViolation(
            _(
                "The password must be at least %(count)s characters long.",
                count=PASSWORD_MIN_LENGTH,
            )
        )
    if password.isdigit():
        raise PasswordPolicyViolation(_("The password must not consist of digits only."))
    if username and username.casefold() in password.casefold():
        raise PasswordPolicyViolation(_("The password must not contain the username."))


# --- sign-in ------------------------------------------------------------------------------------


def _as(user: User | None, username: str) -> audit.AuditContext:
    """The current audit context, naming ``user`` (who is not signed in yet) as the actor."""
    return dataclasses.replace(
        audit.context_provider(), user_id=user.id if user else None, username=username[:64]
    )


def authenticate(
    session: Session, username: str, password: str, now: dt.datetime | None = None
) -> User:
    """Check a sign-in and return the user, or raise ``SignInRefused``; audits either way.

    After ``MAX_FAILED_LOGINS`` failures in a row the account is locked for ``LOCKOUT``; while
    locked, even the right password is refused. The caller commits the session in both cases,
    so failures are counted even though the sign-in is refused.
    """
    now = now or utcnow()
    context = audit.context_provider()
    if context.client_addr and _recent_failures(session, context.client_addr, now) >= (
        MAX_FAILED_LOGINS_PER_ADDRESS
    ):
        audit.record(
            session, "login_refused", "user", None, reason="address throttled",
            context=_as(None, username),
        )  # fmt: skip
        raise AddressThrottled()
    user = session.scalar(select(User).where(User.username == username).with_for_update())
    if user is None:
        _dummy_verify(password)  # as slow as a real check: timing does not reveal usernames
    if user is not None and user.is_locked(now):
        audit.record(
            session, "login_refused", "user", user.id,
            reason="locked", context=_as(user, username),
        )  # fmt: skip
        raise AccountLocked(user.locked_until, now)
    if user is None or not user.active or not user.check_password(password):
        _count_failure(session, user, username, now)
        if user is not None and user.is_locked(now):
            raise AccountLocked(user.locked_until, now)
        raise WrongCredentials()
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    if password_hasher.check_needs_rehash(user.password_hash):
        user.password_hash = password_hasher.hash(password)  # parameters raised since last time
    audit.record(session, "login", "user", user.id, context=_as(user, username))
    return user


def _recent_failures(session: Session, client_addr: str, now: dt.datetime) -> int:
    return session.scalar(
        select(func.count())
        .select_from(audit.AuditEntry)
        .where(
            audit.AuditEntry.at >= now - LOCKOUT,
            audit.AuditEntry.action == "login_failed",
            audit.AuditEntry.client_addr == client_addr,
        )
    )


_dummy_hash: dict[PasswordHasher, str] = {}


def _dummy_verify(password: str) -> None:
    hasher = password_hasher
    if hasher not in _dummy_hash:
        _dummy_hash[hasher] = hasher.hash("not a password of anyone")
    with contextlib.suppress(VerificationError, InvalidHashError):
        hasher.verify(_dummy_hash[hasher], password)


def _count_failure(session: Session, user: User | None, username: str, now: dt.datetime) -> None:
    reason = "unknown user" if user is None else ("inactive" if not user.active else "password")
    audit.record(
        session, "login_failed", "user", user.id if user else None,
        reason=reason, context=_as(user, username),
    )  # fmt: skip
    if user is not None:
        _add_failure(
            session, user, now, f"{MAX_FAILED_LOGINS} failed sign-ins", _as(user, username)
        )


def _add_failure(session: Session, user: User, now: dt.datetime, reason: str, context) -> None:
    """One more wrong password in a row; the ``MAX_FAILED_LOGINS``-th locks the account."""
    user.failed_logins = (user.failed_logins or 0) + 1
    if user.failed_logins >= MAX_FAILED_LOGINS:
        user.locked_until = now + LOCKOUT
        user.failed_logins = 0
        audit.record(
            session, "lockout", "user", user.id,
            changes={"locked_until": user.locked_until}, reason=reason, context=context,
        )  # fmt: skip


def count_failed_signature(session: Session, user_id: int, now: dt.datetime | None = None) -> None:
    """A wrong password given to sign counts as a failed sign-in: a signed-in session must not
    let anyone guess the password by signing, as the sign-in page does not. (The refused
    signature itself is audited by the workflow.)"""
    user = session.get(User, user_id, with_for_update=True)
    if user is not None:
        reason = f"{MAX_FAILED_LOGINS} wrong passwords in a row (sign-in or signature)"
        _add_failure(session, user, now or utcnow(), reason, None)


def signed_rightly(user: User) -> None:
    """A right signing password ends a run of wrong ones, as a right sign-in does."""
    user.failed_logins = 0


def refuse_sign_in(session: Session, user: User, reason: str) -> None:
    """Record a sign-in refused for a reason outside this module (e.g. an API-only account)."""
    audit.record(
        session, "login_refused", "user", user.id, reason=reason, context=_as(user, user.username)
    )


def record_logout(session: Session, user: User) -> None:
    audit.record(session, "logout", "user", user.id)


# --- changes by the user or an admin ------------------------------------------------------------


def change_password(session: Session, user: User, current: str, new: str) -> None:
    """The user's own password change: the current password must be right, the new one valid."""
    if not user.check_password(current):
        raise PasswordPolicyViolation(_("The current password is wrong."), field="current")
    check_password_policy(user.username, new)
    if user.check_password(new):
        raise PasswordPolicyViolation(_("The new password must differ from the current one."))
    user.set_password(new)
    audit.record(session, "password_change", "user", user.id)


def reset_password(session: Session, user: User, new: str) -> None:
    """An admin sets a new password (and lifts a lockout); the password itself is never logged."""
    check_password_policy(user.username, new)
    user.set_password(new)
    user.failed_logins, user.locked_until = 0, None
    audit.record(session, "password_reset", "user", user.id)


def create_user(
    session: Session,
    username: str,
    full_name: str,
    password: str,
    *,
    locale: str = "zh_CN",
    active: bool = True,
) -> User:
    """Create a user whose password follows the policy; audited with its initial values."""
    check_password_policy(username, password)
    user = User(username=username, full_name=full_name, locale=locale, active=active)
    user.set_password(password)
    session.add(user)
    session.flush()
    audit.record(
        session, "create", "user", user.id,
        changes={"username": username, "full_name": full_name, "locale": locale, "active": active},
    )  # fmt: skip
    return user


def update_user(
    session: Session,
    user: User,
    *,
    roles: list[str] | None = None,
    location_ids: list[int] | None = None,
    **attributes,
) -> dict:
    """Change a user's attributes, roles (already validated) and locations in one audit entry.

    Returns the changes as ``{field: [old, new]}``; nothing is recorded when nothing changed.
    """
    changes: dict[str, list] = {}
    for name, value in attributes.items():
        old = getattr(user, name)
        if old != value:
            changes[name] = [old, value]
            setattr(user, name, value)
    if roles is not None and sorted(set(roles)) != user.role_names:
        wanted = set(roles)
        changes["roles"] = [user.role_names, sorted(wanted)]
        for row in [row for row in user.role_rows if row.role not in wanted]:
            user.role_rows.remove(row)
        held = {row.role for row in user.role_rows}
        user.role_rows.extend(UserRole(role=name) for name in sorted(wanted - held))
    if location_ids is not None and sorted(set(location_ids)) != user.location_ids:
        new_locations = list(
            session.scalars(select(Location).where(Location.id.in_(set(location_ids))))
        )
        changes["locations"] = [
            [location.code for location in user.locations],
            sorted(location.code for location in new_locations),
        ]
        user.locations = new_locations
    if changes:
        session.flush()
        audit.record(session, "update", "user", user.id, changes=changes)
    return changes
