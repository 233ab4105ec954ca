"""The signed-in home page (the dashboard meant for the user's roles), and the app's icon."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user, login_required

from app.meta.dashboards import dashboard_for
from app.meta.reports import get_report, runnable
from app.web.forms_common import registry
from app.web.session import db_session

bp = Blueprint("pages", __name__, static_folder="static", static_url_path="/static")


@bp.get("/")
@login_required
def home():
    metadata = registry().metadata  # the live set: published report edits included
    session = db_session()

    def may_run(name: str) -> bool:
        report = get_report(metadata, name)
        return report is not None and runnable(session, report, current_user)

    dashboard = dashboard_for(metadata, current_user.role_names, may_run)
    return render_template("home.html", dashboard=dashboard)


@bp.get("/favicon.ico")
def favicon():
    """Browsers and bookmark tools ask for this path whatever the page says."""
    return redirect(url_for("pages.static", filename="favicon.svg"), 301)
