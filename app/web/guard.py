"""What every request passes through after sign-in: who the audit trail names, who may use the
HTML pages, and how a refusal looks (403 / 404 as a page, or as JSON under ``/api/``).
"""

from __future__ import annotations

from flask import (
    Flask,
    abort,
    current_app,
    g,
    has_app_context,
    has_request_context,
    jsonify,
    render_template,
    request,
)
from flask_login import current_user
from werkzeug.exceptions import HTTPException

from app.i18n import _
from app.kernel import audit
from app.meta import access
from app.web.auth import is_api_request

#: Endpoints anyone may reach, whatever their roles (api_only accounts included).
OPEN_ENDPOINTS = frozenset(
    {"auth.login", "auth.logout", "health.healthz", "assets.vendor", "pages.static"}
)


def audit_context() -> audit.AuditContext:
    """The actor of the current request, for every audit entry written while serving it."""
    if not has_request_context():
        return audit.AuditContext()
    user = current_user if current_user and current_user.is_authenticated else None
    return audit.AuditContext(
        user_id=None if user is None else user.id,  # (a token's: its account's)
        username=None if user is None else user.username,
        request_id=(g.get("request_id") or "")[:64] or None,  # the header is client-chosen
        client_addr=(request.remote_addr or "")[:64] or None,
    )


def _roles_in_force() -> dict:
    """The roles of the running app's metadata; the shipped ones outside an app (CLI, tests)."""
    if has_app_context():
        return current_app.extensions["lianku.metadata"].roles
    return access.shipped_roles()


def _refusal(status: int, message: str):
    if is_api_request():
        return jsonify(error={403: "forbidden", 404: "not_found"}.get(status, "error"),
                       message=message), status  # fmt: skip
    return render_template("error.html", status=status, message=message), status


def init_guard(app: Flask) -> None:
    audit.context_provider = audit_context
    access.roles_provider = _roles_in_force

    @app.before_request
    def _pages_need_a_page_role():
        if request.endpoint in OPEN_ENDPOINTS or is_api_request():
            return
        if current_user.is_authenticated and not access.may_use_pages(current_user):
            abort(403)

    @app.after_request
    def _security_headers(response):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")  # no clickjacking of forms
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if current_user and current_user.is_authenticated:
            response.headers.setdefault("Cache-Control", "no-store")  # nothing private cached
        return response

    @app.errorhandler(access.PermissionDenied)
    def _denied(exc):
        return _refusal(403, str(exc))

    @app.errorhandler(access.NotFoundInScope)
    def _not_found(exc):
        return _refusal(404, str(exc))

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if exc.code in (403, 404) or is_api_request():
            message = {403: _("You are not allowed to do this."), 404: _("Not found.")}.get(
                exc.code, exc.description
            )
            return _refusal(exc.code, message)
        return exc
