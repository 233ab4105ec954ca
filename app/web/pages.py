"""The signed-in home page."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

bp = Blueprint("pages", __name__, static_folder="static", static_url_path="/static")


@bp.get("/")
@login_required
def home():
    return render_template("home.html")
