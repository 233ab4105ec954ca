"""The web layer: authentication, request parsing, rendering. No business rule lives here."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from flask import Flask
from flask_login import current_user
from jinja2 import ChoiceLoader, FileSystemLoader

from app.i18n import localized
from app.kernel.items import business_timezone
from app.meta import access
from app.meta.expressions import this_names
from app.web import (
    account,
    admin,
    api,
    approvals,
    assets,
    attachments,
    audit_views,
    auth,
    dashboards_admin,
    forms_admin,
    forms_api,
    forms_pages,
    health,
    jobs,
    openapi,
    options_admin,
    package_admin,
    pages,
    periods,
    replenishment,
    reports,
    reports_admin,
    roles_admin,
    settings_admin,
    stock,
    workflows_admin,
)
from app.web.forms_common import DatabaseIntConverter, ExactJSONProvider
from app.web.guard import init_guard
from app.web.i18n import init_i18n, local_time
from app.web.logs import init_request_logging
from app.web.session import init_sessions

TEMPLATES_DIR = str(Path(__file__).parent / "templates")


def _nav_forms() -> list[tuple[str, str, list[tuple[str, str]]]]:
    """The navigation bar's form entries the signed-in user may read: (menu name, menu label,
    [(form, label)]) in the order of settings.yaml's menus; a form without a menu is an entry of
    its own (its menu name empty, its label the form's)."""
    from flask_login import current_user

    from app.meta import access
    from app.meta.records import locale
    from app.web.forms_common import registry

    if not current_user.is_authenticated:
        return []
    current = registry()
    forms = [f for f in current.forms.values() if access.can(current_user, "read", f.name)]
    entries = []
    for menu in current.metadata.settings.get("menus", []):
        members = [(f.name, f.label(locale())) for f in forms if f.spec.get("menu") == menu["name"]]
        if members:
            entries.append((menu["name"], localized(menu["label"]), members))
    listed = {name for _menu, _label, members in entries for name, _ in members}
    entries += [("", f.label(locale()), [(f.name, f.label(locale()))])
                for f in forms if f.name not in listed]  # fmt: skip
    return entries


def _nav_admin() -> bool:
    from flask_login import current_user

    from app.meta import access

    return current_user.is_authenticated and access.can(current_user, "admin")


def _inbox_count() -> int:
    """What waits for the signed-in user in the inbox (tasks, unread messages); 0 for nobody."""
    from flask_login import current_user

    from app.web.session import db_session
    from app.workflow import approvals

    if not current_user.is_authenticated:
        return 0
    return approvals.attention(db_session(), current_user)


def init_web(app: Flask) -> None:
    settings = app.config["LIANKU"]
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        REMEMBER_COOKIE_SECURE=settings.secure_cookies,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=12),
    )
    app.json = ExactJSONProvider(app)  # request bodies' numbers parsed as Decimal, not float
    app.url_map.converters["int"] = DatabaseIntConverter  # an id past 2**63 is not found
    init_request_logging(app, settings.log_level)
    init_sessions(app)
    app.jinja_env.globals["nav_forms"] = _nav_forms
    app.jinja_env.globals["nav_admin"] = _nav_admin
    app.jinja_env.globals["inbox_count"] = _inbox_count
    init_i18n(app)
    app.jinja_env.filters["localized"] = localized
    app.jinja_env.filters["local_time"] = local_time
    app.jinja_env.globals["business_zone"] = lambda: business_timezone().key
    # the header fields a link picker's filter reads (``this('supplier')``): the page sends them
    app.jinja_env.filters["link_this"] = lambda field: sorted(
        this_names(field.expressions.get("link_filter"))
    )
    auth.init_auth(app)
    init_guard(app)
    app.jinja_env.globals["can"] = lambda action, form=None: access.can(current_user, action, form)
    # form_templates/ first, so a deployment can override any generated form, list or print.
    app.jinja_loader = ChoiceLoader(
        [FileSystemLoader(str(settings.form_templates_dir)), FileSystemLoader(TEMPLATES_DIR)]
    )
    # identity's fixed lookups (location, user) come before the forms' /api/v1/lookup/<target>
    blueprints = (health.bp, auth.bp, pages.bp, assets.bp, jobs.bp, reports.bp)
    blueprints += (account.bp, admin.bp, api.bp, audit_views.bp, attachments.bp, stock.bp)
    blueprints += (forms_api.bp, forms_pages.bp, forms_admin.bp, approvals.bp, reports_admin.bp)
    blueprints += (replenishment.bp, workflows_admin.bp, options_admin.bp, openapi.bp)
    blueprints += (dashboards_admin.bp, roles_admin.bp, settings_admin.bp, package_admin.bp)
    blueprints += (periods.bp,)
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
