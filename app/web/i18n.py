"""Per-user language: the signed-in user's locale, else the browser's, else Chinese; and the
moment as the business reads it (its wall clock)."""

from __future__ import annotations

import datetime as dt

from flask import Flask, current_app, has_request_context, request, session
from flask_babel import Babel, get_locale
from flask_login import current_user

from app.config import PROJECT_ROOT
from app.i18n import LOCALES
from app.kernel.items import business_timezone


def select_locale() -> str:
    """A person's chosen language; for an API token (no person, no preference of its own) and
    visitors, the request's ``Accept-Language``, else the deployment's default."""
    if not has_request_context():  # a job or the CLI: the deployment's default
        return current_app.config["LIANKU"].default_locale
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


def local_time(value, seconds: bool = False, zone: bool = False) -> str:
    """A moment as the people of the business read it: on their wall clock (the business time
    zone), without an offset — a receipt posted at 08:15 in Shanghai is not shown as 00:15 UTC.
    ``zone`` names the time zone after it, where the moment is a record a regulator reads on its
    own (a signature). Takes a timezone-aware datetime or its ISO text (a report cell)."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:  # (every stored moment is UTC)
        value = value.replace(tzinfo=dt.UTC)
    shown = value.astimezone(business_timezone()).strftime(
        "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    )
    return f"{shown} ({business_timezone().key})" if zone else shown
