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
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from app.i18n import _
from app.kernel import audit
from app.meta import access
from app.meta.records import RecordError, locale
from app.web.auth import is_api_request
from app.web.forms_common import json_error, registry

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
    """The roles of the running app's metadata — in a request, the live registry's, so that an
    admin's edit of the roles holds from the next request on; the shipped ones outside an app
    (CLI, tests)."""
    if has_request_context():
        return registry().metadata.roles
    if has_app_context():
        return current_app.extensions["lianku.metadata"].roles
    return access.shipped_roles()


def _form_label(name: str) -> str:
    """A form's label in the reader's language (its name outside an app or when unknown). A
    job refused a right runs in the app without a request: it reads the app's registry."""
    if not has_app_context():
        return name
    live = registry() if has_request_context() else current_app.extensions.get("lianku.registry")
    form = live.form(name) if live is not None else None
    return form.label(locale()) if form is not None else name


def _refusal(status: int, message: str):
    if is_api_request():
        codes = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}
        return jsonify(error=codes.get(status, "error"), message=message), status
    return render_template("error.html", status=status, message=message), status


def _message_for(exc: HTTPException) -> str:
    """The user's-language text for an HTTP error, in place of werkzeug's English one."""
    if isinstance(exc, CSRFError):
        return _("The page's security token is missing or has expired. Reload the page and try "
                 "again.")  # fmt: skip
    messages = {
        400: _("The request could not be understood."),
        401: _("Please sign in to continue."),
        403: _("You are not allowed to do this."),
        404: _("Not found."),
        405: _("This address does not accept a %(method)s request.", method=request.method),
        413: _("The upload is too large."),
        429: _("Too many requests; please wait a moment and try again."),
    }
    if exc.code in messages:
        return messages[exc.code]
    if exc.code >= 500:
        return _("Something went wrong on our side. Please try again; if it happens again, tell "
                 "your administrator.")  # fmt: skip
    return exc.description or exc.name


def _forget_the_failed_transaction() -> None:
    """Roll back what a failed request left: an error page that reads the database (who is
    signed in, for the menu) would otherwise fail too, with werkzeug's bare page instead."""
    session = g.get("db_session")
    if session is not None:
        session.rollback()


def init_guard(app: Flask) -> None:
    audit.context_provider = audit_context
    access.roles_provider = _roles_in_force
    access.form_label = _form_label

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

    @app.errorhandler(RecordError)
    def _record_error(exc: RecordError):
        """A typed refusal raised outside ``api_auth`` (a lookup's bad ``limit``): its status."""
        _forget_the_failed_transaction()
        if is_api_request():
            return json_error(exc)
        return render_template("error.html", status=exc.status, message=str(exc)), exc.status

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if exc.code is None:
            return exc
        if exc.code >= 500:
            _forget_the_failed_transaction()
        return _refusal(exc.code, _message_for(exc))
