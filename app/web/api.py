"""JSON endpoints of the identity issue: scoped location lookup and API-token administration.

Every endpoint authenticates by session cookie (browser, CSRF-checked) or Bearer token
(integrators), and asks ``app.meta.access`` — nothing here decides who may see what.
"""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, request
from flask_login import current_user, login_required
from sqlalchemy import select

from app.i18n import _
from app.kernel import tokens
from app.kernel.locations import Location
from app.meta import access, identity
from app.web.forms_common import lookup_limit, picker_field
from app.web.session import db_session

bp = Blueprint("api_identity", __name__, url_prefix="/api/v1")


def _token_json(token: tokens.ApiToken) -> dict:
    return {
        "id": token.id,
        "name": token.name,
        "hint": token.hint,
        "role": token.role,
        "locations": [location.code for location in token.locations],
        "created_at": token.created_at.isoformat(),
        "revoked_at": token.revoked_at.isoformat() if token.revoked_at else None,
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        "last_used_at": token.last_used_at.isoformat() if token.last_used_at else None,
    }


def _counterpart_picker() -> bool:
    """Does the picker serve a field with ``link_scope: all`` (``?form=…&field=…``) of a form
    the caller may read? Then it offers every store and warehouse, not only the caller's."""
    form_name = request.args.get("form")
    if not form_name or not access.can(current_user, "read", form_name):
        return False
    field = picker_field(form_name, request.args.get("field"))
    return field is not None and field.get("link_scope") == "all"


@bp.get("/lookup/location")
@login_required
def lookup_location():
    """Locations in the caller's scope matching ``q`` (code or name): what a link picker offers.

    Each result has the link pickers' ``value``/``label`` pair plus the location's own fields.
    """
    found = access.lookup_locations(
        db_session(), current_user, request.args.get("q", ""), lookup_limit(), _counterpart_picker()
    )
    return jsonify(
        results=[
            {
                "value": loc.id,
                "label": f"{loc.code} {loc.name}",
                "id": loc.id,
                "code": loc.code,
                "name": loc.name,
                "type": str(loc.type),
            }
            for loc in found
        ]  # fmt: skip
    )


@bp.get("/lookup/user")
@login_required
def lookup_user():
    """Users sharing the caller's scope matching ``q`` (username or name); never other stores'."""
    text = request.args.get("q", "")
    found = access.lookup_users(db_session(), current_user, text, lookup_limit())
    return jsonify(
        results=[
            {
                "value": user.id,
                "label": user.full_name,
                "id": user.id,
                "username": user.username,
                "full_name": user.full_name,
            }
            for user in found
        ]  # fmt: skip
    )


@bp.get("/admin/tokens")
@login_required
def tokens_list():
    access.require(current_user, "admin")
    rows = db_session().scalars(select(tokens.ApiToken).order_by(tokens.ApiToken.id)).all()
    return jsonify(tokens=[_token_json(token) for token in rows])


def _token_input_problem(body: dict) -> tuple[str, str] | None:
    """(field, why) of the first token input that is not what ``token_create`` takes."""
    name, role = body.get("name"), body.get("role")
    if name is not None and not isinstance(name, str):
        return "name", _("Write the name as text.")
    longest = tokens.ApiToken.__table__.c.name.type.length
    if name is not None and len(name.strip()) > longest:
        return "name", _("The name may have at most %(count)s characters.", count=longest)
    if role is not None and not isinstance(role, str):
        return "role", _("Write the role as text.")
    codes = body.get("locations") or []
    if not isinstance(codes, list) or not all(isinstance(code, str) for code in codes):
        return "locations", _("Expected a list of location codes.")
    days = body.get("valid_days", identity.DEFAULT_VALIDITY_DAYS)
    if days is not None and (not isinstance(days, int) or isinstance(days, bool)):
        return "valid_days", _("Write the days as a whole number, or null for until revoked.")
    return None


@bp.post("/admin/tokens")
@login_required
def token_create():
    """Issue a token from ``{"name", "role", "locations": [codes], "valid_days"}`` (days it
    works for: 365 unless given, null until revoked); shown once in the answer."""
    access.require(current_user, "admin")
    body = request.get_json(silent=True)
    body = body if isinstance(body, dict) else {}
    problem = _token_input_problem(body)
    if problem is not None:
        field, message = problem
        return jsonify(error="invalid", field=field, message=message), 422
    sql = db_session()
    codes = body.get("locations") or []

    found = {
        loc.code: loc.id
        for loc in sql.scalars(select(Location).where(Location.code.in_([str(c) for c in codes])))
    }
    missing = [code for code in codes if code not in found]
    if missing:
        return jsonify(
            error="invalid",
            field="locations",
            message=_("Unknown location: %(codes)s", codes=", ".join(map(str, missing))),
        ), 422
    try:
        token, plaintext = identity.issue_token(
            sql, str(body.get("name") or ""), str(body.get("role") or ""),
            list(found.values()), None if current_user.is_api_token else current_user.id,
            body.get("valid_days", identity.DEFAULT_VALIDITY_DAYS),
        )  # fmt: skip
    except identity.InvalidAssignment as exc:
        sql.rollback()
        return jsonify(error="invalid", field=exc.field, message=str(exc)), 422
    sql.commit()
    return jsonify(token=plaintext, **_token_json(token)), 201


@bp.delete("/admin/tokens/<int:token_id>")
@login_required
def token_revoke(token_id: int):
    access.require(current_user, "admin")
    sql = db_session()
    token = sql.get(tokens.ApiToken, token_id)
    if token is None:
        abort(404)
    tokens.revoke_token(sql, token)
    sql.commit()
    return jsonify(_token_json(token))
