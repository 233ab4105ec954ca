"""Lianku 联库: a metadata-driven purchase–sales–inventory platform.

``create_app`` builds the Flask application: settings, database, metadata, web layer. It refuses
to start on invalid metadata, listing every problem, rather than serve a half-valid application.
"""

from __future__ import annotations

from flask import Flask

import app.workflow  # noqa: F401  (registers the workflow's load-time checks)
from app.config import load_settings
from app.db import Database
from app.kernel.items import use_business_timezone
from app.meta import registry


def create_app(config: dict | None = None) -> Flask:
    """The application factory; ``config`` overrides ``LIANKU_*`` environment variables."""
    from app.web import init_web  # the top layer, imported last

    settings = load_settings(config)
    use_business_timezone(settings.timezone)
    forms = registry.build(settings.metadata_dir, settings.workflows_dir)
    metadata = forms.metadata
    app = Flask(__name__, instance_path=str(settings.instance_path), static_folder=None)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        LIANKU=settings,
        **{key: value for key, value in settings.extra.items() if key.isupper()},
    )
    app.extensions["lianku.db"] = Database(settings.database_url)
    app.extensions["lianku.metadata"] = metadata
    app.extensions["lianku.registry"] = forms
    init_web(app)
    return app
