"""The signed-in home page: the dashboard meant for the user's roles."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask_login import current_user, login_required

from app.meta.dashboards import dashboard_for

bp = Blueprint("pages", __name__, static_folder="static", static_url_path="/static")


def user_roles(user) -> list[str]:
    """The role names of ``user`` (MERGE-TODO: the identity branch's API)."""
    return list(getattr(user, "role_names", []) or [])


@bp.get("/")
@login_required
def home():
    metadata = current_app.extensions["lianku.metadata"]
    dashboard = dashboard_for(metadata, current_user, user_roles(current_user))
    return render_template("home.html", dashboard=dashboard)
