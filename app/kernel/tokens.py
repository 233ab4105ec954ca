"""API tokens: how an integrator's system signs in, with a role and locations of its own.

A token is shown once when it is issued; only its SHA-256 is stored, so a database dump reveals
no usable token. A token acts like a user in ``app.meta.access`` (``role_names``,
``location_ids``), so its scope limits it exactly as a user's would. Revoking sets
``revoked_at``; the lookup refuses revoked tokens, so revocation takes effect on the next request.
A token may be issued to expire (``expires_at``; none: it does not), so that one forgotten in an
old integration stops working by itself; the lookup refuses it from that moment on.

Wherever an actor is named by a user id (who created a record, whose approval task, whose
idempotency key or upload), a token is named by its **account**: a user row of its own, made when
the token is issued, that never signs in (no password, inactive) and holds no roles — the token's
own role and locations apply. A request signed with a token acts as ``TokenPrincipal``, whose
``id`` is that account's. (A token's own id would be some person's user id as well.)
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import Column, ForeignKey, String, Table, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from app.db import Base, UTCDateTime, utcnow
from app.i18n import _l
from app.kernel import audit
from app.kernel.items import wall_clock
from app.kernel.locations import Location
from app.kernel.users import User

#: The password hash of a token's account: no password matches it.
NO_PASSWORD = "!"
#: A token's account is named ``token:<the token's id>``; people's usernames may not start so.
ACCOUNT_PREFIX = "token:"

#: Prefix that makes a leaked token easy to recognise (and to scan repositories for).
TOKEN_PREFIX = "lk_"
#: ``last_used_at`` is refreshed at most this often, so reads do not all become writes.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)

api_token_locations = Table(
    "api_token_locations",
    Base.metadata,
    Column("token_id", ForeignKey("api_tokens.id", ondelete="CASCADE"), primary_key=True),
    Column("location_id", ForeignKey("locations.id"), primary_key=True),
)


def hash_token(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: the first characters of the token, shown in lists so an admin can tell tokens apart
    hint: Mapped[str] = mapped_column(String(16))
    role: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: the token's account: the user id it acts under (see the module's docstring)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: from this moment the token is refused; None: it does not expire
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    locations: Mapped[list[Location]] = relationship(
        secondary=api_token_locations, order_by=Location.code, lazy="selectin"
    )

    def __repr__(self) -> str:
        return f"<ApiToken {self.name}>"

    # The principal protocol shared with User: access checks read these.
    @property
    def role_names(self) -> list[str]:
        return [self.role]

    @property
    def location_ids(self) -> list[int]:
        return sorted(location.id for location in self.locations)

    @property
    def username(self) -> str:
        return f"token:{self.name}"[:64]

    @property
    def full_name(self) -> str:
        return self.username

    @property
    def locale(self) -> str:
        return "zh_CN"

    @property
    def is_api_token(self) -> bool:
        return True

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= utcnow()

    # Flask-Login's user protocol (a token is never stored in a session cookie).
    @property
    def is_active(self) -> bool:
        return not (self.revoked or self.expired)

    @property
    def is_authenticated(self) -> bool:
        return self.is_active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"token:{self.id}"


class TokenPrincipal:
    """Who a request signed with ``token`` is: the token, acting under its account's user id."""

    def __init__(self, token: ApiToken):
        self.token = token
        self.id = token.user_id

    def __getattr__(self, name: str):
        return getattr(self.token, name)

    def __repr__(self) -> str:
        return f"<TokenPrincipal {self.token.name}>"


class TokenRefused(Exception):
    """A token that was issued but may no longer be used: revoked, or past its expiry.

    Its message is translated when read: it is raised while the request's user is being found,
    before the language that user reads in is known."""


def issue_token(
    session: Session,
    name: str,
    role: str,
    locations: list[Location],
    created_by_id: int | None,
    expires_at: dt.datetime | None = None,
) -> tuple[ApiToken, str]:
    """Create a token (role already validated) and its account; returns the token and the
    plaintext, shown only once."""
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        name=name,
        token_hash=hash_token(plaintext),
        hint=plaintext[: len(TOKEN_PREFIX) + 6],
        role=role,
        created_by_id=created_by_id,
        locations=list(locations),
        expires_at=expires_at,
    )
    session.add(token)
    session.flush()
    account = User(
        username=f"{ACCOUNT_PREFIX}{token.id}",
        full_name=name,
        password_hash=NO_PASSWORD,
        active=False,
    )
    session.add(account)
    session.flush()
    token.user_id = account.id
    audit.record(
        session, "create", "api_token", token.id,
        changes={"name": name, "role": role, "locations": [loc.code for loc in locations],
                 "expires_at": expires_at},
    )  # fmt: skip
    return token, plaintext


def revoke_token(session: Session, token: ApiToken) -> None:
    """Revoke ``token`` now; revoking twice changes nothing and records nothing."""
    if token.revoked_at is not None:
        return
    token.revoked_at = utcnow()
    audit.record(
        session, "revoke", "api_token", token.id, changes={"revoked_at": [None, token.revoked_at]}
    )


def find_active_token(session: Session, plaintext: str) -> ApiToken | None:
    """The token whose hash matches ``plaintext``, or None; ``TokenRefused`` saying why when it
    matches one revoked or expired (the integrator's next step differs from a mistyped one's)."""
    if not plaintext.startswith(TOKEN_PREFIX):
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(plaintext)))
    if token is None:
        return None
    if token.revoked:
        raise TokenRefused(_l("This API token was revoked: ask your administrator for a new one."))
    if token.expired:
        raise TokenRefused(
            _l("This API token expired at %(date)s: ask your administrator for a new one.",
              date=wall_clock(token.expires_at))
        )  # fmt: skip
    return token


def needs_last_used_update(token: ApiToken, now: dt.datetime | None = None) -> bool:
    now = now or utcnow()
    return token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION
