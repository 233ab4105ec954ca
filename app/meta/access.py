"""Access control: the one enforcement point for permissions and data scope.

Every page, API endpoint, export, report and link lookup asks here — never anywhere else —
whether a user may take an action on a form, and which locations' records they may see.

Action names: ``read``, ``create``, ``update``, ``delete``, ``export``, ``transition:<name>``,
``report:<name>``, ``admin``.

NOTE: interface first. The identity issue fills in the role-based rules (roles from
``metadata/roles.yaml``, users' assigned locations, region scope); until then every signed-in
user may do everything everywhere.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, true
from sqlalchemy.orm import Session

from app.i18n import _


class PermissionDenied(Exception):
    """The user may not take ``action`` (on ``form``); carries a message a clerk can act on."""

    def __init__(self, action: str, form: str | None = None):
        self.action, self.form = action, form
        super().__init__(
            _("You are not allowed to %(action)s %(form)s.", action=action, form=form or "")
        )


def can(user, action: str, form: str | None = None) -> bool:
    """May ``user`` take ``action`` on ``form`` (or globally when ``form`` is None)?"""
    return bool(getattr(user, "is_authenticated", False))


def require(user, action: str, form: str | None = None) -> None:
    """Raise ``PermissionDenied`` unless ``can(user, action, form)``."""
    if not can(user, action, form):
        raise PermissionDenied(action, form)


def visible_location_ids(session: Session, user) -> frozenset[int] | None:
    """The ids of the locations whose records ``user`` may see; ``None`` means all of them."""
    return None


def scope_filter(session: Session, user, location_column) -> ColumnElement[bool]:
    """A WHERE clause restricting ``location_column`` to the user's data scope."""
    ids = visible_location_ids(session, user)
    return true() if ids is None else location_column.in_(ids)
