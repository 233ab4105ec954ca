"""User and API-token administration: role names checked against ``metadata/roles.yaml``.

The kernel stores users, tokens and their audit entries but knows nothing of roles.yaml; this
module validates role names, locales and locations first, then calls the kernel, so a typo never
reaches the database.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.i18n import LOCALES, _
from app.kernel import tokens, users
from app.kernel.locations import Location
from app.meta.access import can, role_definitions, validate_roles


class InvalidAssignment(ValueError):
    """A user or token change names something that does not exist; ``field`` says which input."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(message)


def _locations(session: Session, location_ids) -> list[Location]:
    wanted = {int(location_id) for location_id in location_ids or []}
    found = list(session.scalars(select(Location).where(Location.id.in_(wanted))))
    if len(found) != len(wanted):
        raise InvalidAssignment("locations", _("Unknown location."))
    return found


def _check_locale(locale: str) -> None:
    if locale not in LOCALES:
        raise InvalidAssignment("locale", _("Unknown language '%(locale)s'.", locale=locale))


def create_user(
    session: Session,
    username: str,
    full_name: str,
    password: str,
    *,
    roles: list[str] = (),
    location_ids: list[int] = (),
    locale: str = "zh_CN",
    active: bool = True,
) -> users.User:
    """Create a user with validated roles and locations; one audit entry per step."""
    roles = validate_roles(roles)
    _check_locale(locale)
    locations = _locations(session, location_ids)
    username = username.strip()
    if not username:
        raise InvalidAssignment("username", _("The username is required."))
    if username.startswith(tokens.ACCOUNT_PREFIX):
        raise InvalidAssignment(
            "username",
            _("Usernames starting with '%(prefix)s' are kept for API tokens.",
              prefix=tokens.ACCOUNT_PREFIX),
        )  # fmt: skip
    if session.scalar(select(users.User.id).where(users.User.username == username)):
        raise InvalidAssignment(
            "username", _("The username '%(name)s' is already taken.", name=username)
        )
    user = users.create_user(session, username, full_name, password, locale=locale, active=active)
    users.update_user(session, user, roles=roles, location_ids=[loc.id for loc in locations])
    return user


def update_user(
    session: Session,
    user: users.User,
    *,
    roles: list[str] | None = None,
    location_ids: list[int] | None = None,
    actor=None,
    **attributes,
) -> dict:
    """Change roles, locations and plain attributes (full_name, active, locale); audited.

    ``actor`` is who makes the change: an admin cannot take away their own admin rights or
    deactivate themselves, so an installation never locks its last admin out by a slip.
    """
    if roles is not None:
        roles = validate_roles(roles)
    if actor is not None and getattr(actor, "id", None) == user.id:
        if attributes.get("active") is False:
            raise InvalidAssignment("active", _("You cannot deactivate yourself."))
        if roles is not None and can(user, "admin") and not _grants_admin(roles):
            raise InvalidAssignment("roles", _("You cannot remove your own admin rights."))
    if location_ids is not None:
        location_ids = [location.id for location in _locations(session, location_ids)]
    if "locale" in attributes:
        _check_locale(attributes["locale"])
    return users.update_user(session, user, roles=roles, location_ids=location_ids, **attributes)


def _grants_admin(roles: list[str]) -> bool:
    definitions = role_definitions()
    return any(definitions[name].get("admin") for name in roles)


#: The longest a token may be issued for, in days; and what it is issued for unless told.
LONGEST_VALIDITY_DAYS = 3650
DEFAULT_VALIDITY_DAYS = 365


def issue_token(
    session: Session,
    name: str,
    role: str,
    location_ids: list[int],
    created_by_id: int | None,
    valid_days: int | None = DEFAULT_VALIDITY_DAYS,
) -> tuple[tokens.ApiToken, str]:
    """Issue an API token for a known role and existing locations, valid for ``valid_days``
    (None: until revoked); the plaintext is shown once."""
    name = (name or "").strip()
    if not name:
        raise InvalidAssignment("name", _("The token name is required."))
    try:
        [role] = validate_roles([role])
    except ValueError as exc:
        raise InvalidAssignment("role", str(exc)) from exc
    expires_at = None
    if valid_days is not None:
        if not 1 <= valid_days <= LONGEST_VALIDITY_DAYS:
            raise InvalidAssignment(
                "valid_days",
                _("A token is valid for 1 to %(most)d days (or until revoked).",
                  most=LONGEST_VALIDITY_DAYS),
            )  # fmt: skip
        expires_at = utcnow() + dt.timedelta(days=valid_days)
    locations = _locations(session, location_ids)
    return tokens.issue_token(session, name, role, locations, created_by_id, expires_at)
