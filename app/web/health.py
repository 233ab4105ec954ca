"""``/healthz``: is the database reachable, the metadata loaded, the schema at the head?"""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from app.migrate import current_revision, head_revision
from app.web.session import database

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    db = database()
    checks: dict[str, object] = {}
    healthy = True
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = {"ok": True, "dialect": db.dialect}
        current, head = current_revision(db.engine), head_revision(db.engine)
        at_head = current == head
        checks["migrations"] = {"ok": at_head, "current": current, "head": head}
        healthy = at_head
    except SQLAlchemyError as exc:
        checks["database"] = {"ok": False, "error": type(exc).__name__}
        healthy = False
    checks["metadata"] = {"ok": True, **current_app.extensions["lianku.metadata"].summary()}
    return jsonify(status="ok" if healthy else "unhealthy", checks=checks), 200 if healthy else 503
