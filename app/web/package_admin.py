"""The admin page to move a company's customizations as one package (see ``app.meta.packages``):
download every published definition as a zip, or upload one to publish what it changes — all of
it or nothing, each refusal named."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request
from flask_login import current_user, login_required

from app.db import utcnow
from app.i18n import _
from app.meta import access, packages
from app.meta.access import PermissionDenied
from app.meta.versions import ChangeRefused
from app.meta.yamlsource import MetadataInvalid
from app.web.forms_common import registry
from app.web.session import db_session

bp = Blueprint("package_admin", __name__, url_prefix="/admin/package")


@bp.before_request
@login_required
def _admins_only():
    try:
        access.require(current_user, "admin")
    except PermissionDenied:
        abort(403)


@bp.get("/")
def index():
    return render_template("admin_package.html")


@bp.get("/export")
def export():
    data = packages.export_package(db_session(), registry())
    name = f"lianku-customizations-{utcnow():%Y%m%d-%H%M}.zip"
    return Response(data, mimetype="application/zip",
                    headers={"Content-Disposition": f"attachment; filename={name}"})  # fmt: skip


@bp.post("/import")
def import_():
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return render_template("admin_package.html", refusal=_("Choose a file.")), 422
    session = db_session()
    try:
        imported = packages.import_package(
            session, registry(), current_user, upload.read(), request.form.get("note") or None
        )
        session.commit()
    except MetadataInvalid as exc:
        session.rollback()
        return render_template("admin_package.html", issues=exc.issues), 422
    except ChangeRefused as exc:
        session.rollback()
        return render_template("admin_package.html", refusal=str(exc)), 409
    return render_template("admin_package.html", imported=imported, done=True)
