"""Per-user language: the signed-in user's locale, else the browser's, else Chinese."""

from __future__ import annotations

from flask import Flask, current_app, request, session
from flask_babel import Babel, get_locale
from flask_login import current_user

from app.config import PROJECT_ROOT
from app.i18n import LOCALES


def select_locale() -> str:
    """A person's chosen language; for an API token (no person, no preference of its own) and
    visitors, the request's ``Accept-Language``, else the deployment's default."""
    signed_in = getattr(current_user, "is_authenticated", False)
    if signed_in and not current_user.is_api_token and current_user.locale in LOCALES:
        return current_user.locale
    chosen = session.get("locale")
    if chosen in LOCALES:
        return chosen
    best = request.accept_languages.best_match(["zh_CN", "zh", "en"])
    if best in ("zh_CN", "zh"):
        return "zh_CN"
    return best or current_app.config["LIANKU"].default_locale


def init_i18n(app: Flask) -> None:
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(PROJECT_ROOT / "app" / "translations")
    app.config["BABEL_DEFAULT_LOCALE"] = app.config["LIANKU"].default_locale
    Babel(app, locale_selector=select_locale)
    app.jinja_env.globals["current_locale"] = lambda: str(get_locale())
