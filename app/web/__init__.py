"""The web layer: authentication, request parsing, rendering. No business rule lives here."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from jinja2 import ChoiceLoader, FileSystemLoader

from app.web import assets, auth, forms_api, health, pages
from app.web.i18n import init_i18n
from app.web.logs import init_request_logging
from app.web.session import init_sessions

TEMPLATES_DIR = str(Path(__file__).parent / "templates")


def init_web(app: Flask) -> None:
    settings = app.config["LIANKU"]
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        REMEMBER_COOKIE_SECURE=settings.secure_cookies,
        REMEMBER_COOKIE_HTTPONLY=True,
    )
    init_request_logging(app, settings.log_level)
    init_sessions(app)
    init_i18n(app)
    auth.init_auth(app)
    # form_templates/ first, so a deployment can override any generated form, list or print.
    app.jinja_loader = ChoiceLoader(
        [FileSystemLoader(str(settings.form_templates_dir)), FileSystemLoader(TEMPLATES_DIR)]
    )
    for blueprint in (health.bp, auth.bp, pages.bp, assets.bp, forms_api.bp):
        app.register_blueprint(blueprint)
