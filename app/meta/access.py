"""Access control: the one enforcement point for permissions and data scope.

Every page, API endpoint, export, report and link lookup asks here — never anywhere else —
whether a user may take an action on a form, and which locations' records they may see.

Action names: ``read``, ``create``, ``update``, ``delete``, ``export``, ``transition:<name>``
(form actions, granted per form by ``forms`` in ``metadata/roles.yaml``, ``*`` wildcards
allowed), ``report:<name>`` (``reports``), ``admin`` (users, tokens, metadata) and ``audit``
(the whole audit trail; admins have it too). A ``read_only`` role never gets a write action,
whatever its ``forms`` say; an ``api_only`` role may not use the HTML pages.

A *principal* is a signed-in ``User`` or an ``ApiToken``: both expose ``role_names`` and
``location_ids``, so a token's scope limits it exactly as a user's does.

Data scope is the widest scope among the principal's roles: ``own`` is the assigned locations and
everything below them; ``region`` is every location in the region(s) of the assigned locations;
``all`` is no restriction (``None``). Queries use ``scope_filter`` and single records
``require_location``, which answers "not found" rather than revealing that the record exists.

A permission holds only within the scope of the role that grants it: a store manager who is also
given the read-only ``finance`` role (scope ``all``) reads every store's records but still writes
only in their own. So the scope functions take ``roles`` — the role names to count, e.g.
``granting(user, "update", form)`` — and count all the principal's roles when it is None (reading).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from fnmatch import fnmatchcase
from functools import cache
from pathlib import Path

from sqlalchemy import ColumnElement, event, false, or_, select, true
from sqlalchemy.orm import Session

from app.i18n import _
from app.kernel.locations import Location, LocationType, path_ids, region_of
from app.kernel.stocktake import Stocktake, StocktakeState
from app.kernel.tokens import ApiToken, TokenPrincipal
from app.kernel.users import User, UserRole, user_locations
from app.meta.loader import schema_issues
from app.meta.yamlsource import MetadataInvalid, parse_yaml

SHIPPED_ROLES = Path(__file__).resolve().parents[2] / "metadata" / "roles.yaml"
#: Form actions that change data; a read_only role never gets them.
WRITE_ACTIONS = frozenset({"create", "update", "delete"})
SCOPES = ("own", "region", "all")
#: Who may see stock figures outside a report (the one-screen stock view and its API): whoever may
#: run the stock-on-hand report, so that one grant in ``roles.yaml`` governs both.
STOCK_VIEW = "report:stock_on_hand"
#: Who may see a location's book quantities while a blind count runs there: whoever reviews counts
#: (the variance report); the counters may not, or the count would not be blind.
COUNT_REVIEW = "report:stocktake_variance"


#: How the form actions read in a refusal ("You are not allowed to delete 调拨单").
ACTION_WORDS = {
    "read": lambda: _("read"),
    "create": lambda: _("create"),
    "update": lambda: _("change"),
    "delete": lambda: _("delete"),
    "export": lambda: _("export"),
}


class JobActor:
    """Who a job acts as when cron or the CLI started it, not a person: its one role decides
    what it may do and see (the planner's, an admin's). It has no user row (``id`` None): audit
    entries name it by username."""

    id = None
    is_authenticated = True
    is_active = True
    is_api_token = False
    location_ids: list[int] = []

    def __init__(self, username: str, full_name: str, role: str):
        self.username, self.full_name, self.role_names = username, full_name, [role]


class PermissionDenied(Exception):
    """The user may not take ``action`` (on ``form``); carries a message a clerk can act on,
    naming the action in words and the form by its label (``form_label``)."""

    def __init__(self, action: str, form: str | None = None):
        self.action, self.form = action, form
        if form is None:
            super().__init__(_("You are not allowed to do this."))
        else:
            words = ACTION_WORDS.get(action)
            super().__init__(
                _(
                    "You are not allowed to %(action)s %(form)s.",
                    action=words() if words else action,
                    form=form_label(form),
                )
            )


#: The label of a form in the reader's language; the web layer points it at the loaded
#: metadata (outside an app, the form's name).
form_label: Callable[[str], str] = str


class NotFoundInScope(LookupError):
    """The record is outside the user's data scope; shown as "not found" so nothing leaks."""

    def __init__(self):
        super().__init__(_("Not found."))


class UnknownRole(ValueError):
    """A role name that ``metadata/roles.yaml`` does not define."""

    def __init__(self, name: str):
        self.name = name
        super().__init__(_("Unknown role '%(name)s'.", name=name))


# --- role definitions ---------------------------------------------------------------------------


@cache
def shipped_roles() -> dict[str, dict]:
    document = parse_yaml(SHIPPED_ROLES.read_text(encoding="utf-8"), "roles.yaml")
    issues = schema_issues(document, "roles.schema.json")
    if issues:
        raise MetadataInvalid(issues)
    return document.data["roles"]


#: Returns the role definitions in force; the web layer points it at the loaded metadata.
roles_provider: Callable[[], dict[str, dict]] = shipped_roles


def role_definitions() -> dict[str, dict]:
    return roles_provider()


def managing_roles() -> list[str]:
    """The roles whose holders manage the locations they are assigned to (``manages`` in
    ``roles.yaml``): a store's manager, a warehouse's supervisor, a region's manager."""
    return sorted(name for name, role in role_definitions().items() if role.get("manages"))


def managers_of(
    session: Session, location_id: int, from_region: bool = False, skip: Iterable[int] = ()
) -> list[int]:
    """The ids of the active users who manage ``location_id``: those holding a managing role at
    it — or, where there are none (a vacant post; only people in ``skip``, such as the one who
    asks), at the nearest location above it that has some, up to HQ. ``from_region`` starts at
    its region (the region manager, 区域经理) or, outside any region, at the location above."""
    location = session.get(Location, location_id)
    if location is None:
        return []
    chain = path_ids(location.path)
    if from_region:
        region = region_of(session, location)
        chain = path_ids(region.path) if region is not None else chain[:-1]
    held = session.execute(
        select(user_locations.c.location_id, UserRole.user_id)
        .join(UserRole, UserRole.user_id == user_locations.c.user_id)
        .join(User, User.id == UserRole.user_id)
        .where(
            UserRole.role.in_(managing_roles()),
            user_locations.c.location_id.in_(chain),
            User.active.is_(True),
        )
    ).all()
    skipped = set(skip)
    for at in reversed(chain):
        found = sorted({user for place, user in held if place == at} - skipped)
        if found:
            return found
    return []


def validate_roles(names: Iterable[str]) -> list[str]:
    """The given role names, sorted and de-duplicated; ``UnknownRole`` for the first unknown."""
    known = role_definitions()
    for name in names:
        if name not in known:
            raise UnknownRole(name)
    return sorted(set(names))


def _role_names(user) -> list[str]:
    if not getattr(user, "is_authenticated", False):
        return []
    return list(getattr(user, "role_names", ()))


def _roles_of(user, roles: Iterable[str] | None = None) -> list[dict]:
    """The definitions of ``user``'s roles (only those named in ``roles`` when given)."""
    known = role_definitions()
    names = _role_names(user)
    if roles is not None:
        names = [name for name in names if name in set(roles)]
    return [known[name] for name in names if name in known]


# --- permissions --------------------------------------------------------------------------------


def _is_write(action: str) -> bool:
    return (
        action in WRITE_ACTIONS
        or action.startswith("transition:")
        or action in ("admin", "close_periods")
    )


def role_allows(role: dict, action: str, form: str | None) -> bool:
    """Does the role definition ``role`` (an entry of roles.yaml) allow ``action`` on ``form``?"""
    if role.get("read_only") and _is_write(action):
        return False
    if action == "admin":
        return bool(role.get("admin"))
    if action == "audit":
        return bool(role.get("audit") or role.get("admin"))
    if action == "close_periods":
        return bool(role.get("close_periods") or role.get("admin"))
    if action.startswith("report:"):
        name = action.removeprefix("report:")
        return any(fnmatchcase(name, pattern) for pattern in role.get("reports", []))
    forms = role.get("forms", {})
    granted = forms[form] if form is not None and form in forms else forms.get("*", [])
    return any(fnmatchcase(action, pattern) for pattern in granted)


def can(user, action: str, form: str | None = None) -> bool:
    """May ``user`` take ``action`` on ``form`` (or on forms in general when ``form`` is None)?"""
    return any(role_allows(role, action, form) for role in _roles_of(user))


def granting(user, action: str, form: str | None = None) -> list[str]:
    """The names of ``user``'s roles that allow ``action`` on ``form``: the roles whose scope
    bounds where the user may take it."""
    known = role_definitions()
    return [
        name
        for name in _role_names(user)
        if name in known and role_allows(known[name], action, form)
    ]


def require(user, action: str, form: str | None = None) -> None:
    """Raise ``PermissionDenied`` unless ``can(user, action, form)``."""
    if not can(user, action, form):
        raise PermissionDenied(action, form)


def writes_nothing(user) -> bool:
    """Is every role of ``user`` ``read_only``? Such a user changes nothing — not even who
    approves in their stead (they approve nothing)."""
    roles = _roles_of(user)
    return bool(roles) and all(role.get("read_only") for role in roles)


def may_use_pages(user) -> bool:
    """May ``user`` use the HTML pages? Not API tokens, nor users whose roles are all api_only."""
    if not getattr(user, "is_authenticated", False) or getattr(user, "is_api_token", False):
        return False
    roles = _roles_of(user)
    return not roles or not all(role.get("api_only") for role in roles)


# --- data scope ---------------------------------------------------------------------------------


def scope_of(user, roles: Iterable[str] | None = None) -> str | None:
    """The widest scope among ``user``'s roles (those in ``roles`` when given): ``own``,
    ``region`` or ``all``; None if no role counts."""
    scopes = {role["scope"] for role in _roles_of(user, roles)}
    for scope in reversed(SCOPES):
        if scope in scopes:
            return scope
    return None


def _scope_roots(session: Session, user, roles: Iterable[str] | None = None) -> list[str] | None:
    """Paths of the subtrees ``user`` may see (None: everything; empty: nothing)."""
    scope = scope_of(user, roles)
    if scope == "all":
        return None
    if scope is None or not user.location_ids:
        return []
    assigned = list(session.scalars(select(Location).where(Location.id.in_(user.location_ids))))
    roots = {location.path for location in assigned}
    if scope == "region":
        for location in assigned:
            region = region_of(session, location)
            if region is not None:
                roots.add(region.path)
    return sorted(roots)


def _ids_under(roots: list[str]):
    return select(Location.id).where(or_(*(Location.path.startswith(root) for root in roots)))


def visible_location_ids(
    session: Session, user, roles: Iterable[str] | None = None
) -> frozenset[int] | None:
    """The ids of the locations whose records ``user`` may see (by the roles named in ``roles``
    when given); ``None`` means all of them.

    Kept in the session for its lifetime (a request, a transaction): saving one document checks
    every link of every line against it. A flush that adds, changes or deletes a location
    forgets it (``_forget_scopes``).
    """
    counted = [name for name in _role_names(user) if roles is None or name in set(roles)]
    key = (tuple(sorted(counted)), tuple(sorted(user.location_ids or ())))
    scopes = session.info.setdefault(_SCOPES_KEY, {})
    if key not in scopes:
        scopes[key] = _visible_location_ids(session, user, counted)
    return scopes[key]


_SCOPES_KEY = "lianku.visible_location_ids"


@event.listens_for(Session, "after_flush")
def _forget_scopes(session: Session, _flush_context) -> None:
    if _SCOPES_KEY in session.info and any(
        isinstance(changed, Location)
        for changed in (*session.new, *session.dirty, *session.deleted)
    ):
        del session.info[_SCOPES_KEY]


def _visible_location_ids(session: Session, user, roles: list[str]) -> frozenset[int] | None:
    roots = _scope_roots(session, user, roles)
    if roots is None:
        return None
    return frozenset(session.scalars(_ids_under(roots))) if roots else frozenset()


def scope_filter(
    session: Session, user, location_column, roles: Iterable[str] | None = None
) -> ColumnElement[bool]:
    """A WHERE clause restricting ``location_column`` to the user's data scope (by ``roles``).

    Built from ``visible_location_ids`` (one place to compute, and to stub in a test).
    """
    ids = visible_location_ids(session, user, roles)
    if ids is None:
        return true()
    return location_column.in_(sorted(ids)) if ids else false()


def hidden_books(session: Session, user) -> frozenset[int]:
    """The locations whose stock figures ``user`` may not see now: those under a blind count
    (counting or in review), unless the user reviews counts (``COUNT_REVIEW``)."""
    if can(user, COUNT_REVIEW):
        return frozenset()
    blind = select(Stocktake.location_id).where(
        Stocktake.blind.is_(True),
        Stocktake.state.in_([StocktakeState.counting, StocktakeState.review]),
    )
    return frozenset(session.scalars(blind))


def users_scope_filter(session: Session, viewer, user_id_column) -> ColumnElement[bool]:
    """A WHERE clause keeping the users ``viewer`` may see: those assigned to at least one
    location in the viewer's scope (everyone for scope ``all``). Staff of another store are as
    private as that store's records."""
    roots = _scope_roots(session, viewer)
    if roots is None:
        return true()
    if not roots:
        return false()
    colleagues = select(user_locations.c.user_id).where(
        user_locations.c.location_id.in_(_ids_under(roots))
    )
    return user_id_column.in_(colleagues)


def in_scope(
    session: Session, user, location_id: int | None, roles: Iterable[str] | None = None
) -> bool:
    """Is a record held at ``location_id`` inside ``user``'s data scope (by ``roles``)?"""
    ids = visible_location_ids(session, user, roles)
    return ids is None or (location_id is not None and location_id in ids)


def require_location(
    session: Session, user, location_id: int | None, action: str | None = None, form=None
) -> None:
    """Raise ``NotFoundInScope`` (shown as 404) unless ``location_id`` is in the user's scope;
    with ``action``, ``PermissionDenied`` unless it is also in the scope of a role granting it."""
    if not in_scope(session, user, location_id):
        raise NotFoundInScope()
    if action is not None and not in_scope(
        session, user, location_id, granting(user, action, form)
    ):
        raise PermissionDenied(action, form)


def lookup_users(session: Session, viewer, text: str = "", limit: int = 20) -> list[User]:
    """Active users in ``viewer``'s scope whose username or name contains ``text``."""
    query = select(User).where(User.active.is_(True), users_scope_filter(session, viewer, User.id))
    pattern = _contains(text)
    if pattern:
        query = query.where(
            or_(
                User.username.ilike(pattern, escape="\\"),
                User.full_name.ilike(pattern, escape="\\"),
            )
        )
    return list(session.scalars(query.order_by(User.username).limit(limit)))


def _contains(text: str) -> str | None:
    """A LIKE pattern matching ``text`` anywhere, wildcards in ``text`` taken literally."""
    text = (text or "").strip()
    if not text:
        return None
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def lookup_locations(
    session: Session, user, text: str = "", limit: int = 20, everywhere: bool = False
) -> list[Location]:
    """Active locations in ``user``'s scope whose code or name contains ``text``: link pickers.
    ``everywhere`` (a field with ``link_scope: all``) offers every store and warehouse instead:
    the counterpart of a transfer, not a place the user works at."""
    where = (
        Location.type.in_((LocationType.store, LocationType.warehouse))
        if everywhere
        else scope_filter(session, user, Location.id)
    )
    query = select(Location).where(Location.active.is_(True), where)
    pattern = _contains(text)
    if pattern:
        query = query.where(
            or_(
                Location.code.ilike(pattern, escape="\\"),
                Location.name.ilike(pattern, escape="\\"),
            )
        )
    return list(session.scalars(query.order_by(Location.code).limit(limit)))


class StarterGone(Exception):
    """The API token that started a job was revoked or has expired since: the job acts for
    nobody now."""

    def __init__(self):
        super().__init__(_("The API token that started this job was revoked or has expired."))


def job_starter(session: Session, user_id: int):
    """Who a job acts as: the person who started it or, when an API token did, the token
    itself. A token acts under its account's user id, but the account has no role: its role
    and locations are the token's, as in the request that queued the job (``StarterGone``
    once it is revoked or expired)."""
    token = session.scalar(select(ApiToken).where(ApiToken.user_id == user_id))
    if token is None:
        return session.get(User, user_id)
    if not token.is_active:
        raise StarterGone()
    return TokenPrincipal(token)
