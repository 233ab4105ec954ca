"""Admin pages to edit forms live: YAML editor with checks as you type and a live preview,
drafts, publish, version history with diffs, rollback, export, and brand-new forms."""

from __future__ import annotations

import re

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from app.i18n import _
from app.meta import access, versions
from app.meta.access import PermissionDenied
from app.meta.records import locale
from app.meta.versions import ChangeRefused
from app.meta.yamlsource import MetadataInvalid
from app.web.forms_common import registry
from app.web.forms_pages import Display
from app.web.session import db_session

bp = Blueprint("forms_admin", __name__, url_prefix="/admin/forms")

IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

NEW_FORM_TEMPLATE = """name: {name}
label: {{zh_CN: 新表单, en: New form}}
kind: document
fields:
  - name: note
    type: text
    label: {{zh_CN: 备注, en: Note}}
"""


def _guard(form: str | None = None) -> None:
    try:
        access.require(current_user, "admin", form)
    except PermissionDenied:
        abort(403)


def _known(form: str) -> None:
    if registry().form(form) is None:
        abort(404)


@bp.get("/")
@login_required
def index():
    _guard()
    reg = registry()
    session = db_session()
    forms = [
        (form, versions.current_version(session, reg, form.name))
        for form in sorted(reg.forms.values(), key=lambda f: f.name)
    ]
    return render_template("admin_forms/index.html", forms=forms, locale=locale())


def _editor(form: str, text: str, issues=(), status=200, new=False):
    reg = registry()
    session = db_session()
    return render_template(
        "admin_forms/edit.html",
        name=form,
        text=text,
        issues=issues,
        new=new,
        history=[] if new else versions.history(session, reg, form),
        locale=locale(),
    ), status


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    _guard()
    name = (request.values.get("name") or "").strip()
    if request.method == "GET":
        return _editor(name or "new_form", NEW_FORM_TEMPLATE.format(name=name or "new_form"),
                       new=True)  # fmt: skip
    if not IDENTIFIER.match(name):
        flash(_("A form name is lower_snake_case: letters, digits and _."), "error")
        return _editor(name, request.form.get("yaml", ""), status=422, new=True)
    if registry().form(name) is not None:
        flash(_("The form '%(name)s' already exists.", name=name), "error")
        return _editor(name, request.form.get("yaml", ""), status=422, new=True)
    return _publish(name, request.form.get("yaml", ""), new=True)


@bp.get("/<form>/edit")
@login_required
def edit(form):
    _guard(form)
    _known(form)
    draft = versions.draft_of(db_session(), form)
    text = draft.yaml_text if draft else registry().form(form).yaml_text
    return _editor(form, text)


@bp.post("/<form>/check")
@login_required
def check(form):
    """htmx: check the YAML being typed and preview the resulting form."""
    _guard(form if registry().form(form) else None)
    if not IDENTIFIER.match(form):
        abort(404)
    session = db_session()
    issues, definition = versions.check_text(
        session, registry(), form, request.form.get("yaml", "")
    )
    session.rollback()
    return render_template(
        "admin_forms/check.html",
        issues=issues,
        form=definition,
        values={},
        errors={},
        visible={},
        locale=locale(),
        display=Display(definition) if definition else None,
    )


@bp.post("/<form>/draft")
@login_required
def draft(form):
    _guard(form)
    _known(form)
    session = db_session()
    versions.save_draft(session, current_user, form, request.form.get("yaml", ""))
    session.commit()
    flash(_("Draft saved; it is not live until you publish it."), "info")
    return redirect(url_for("forms_admin.edit", form=form))


def _publish(form: str, text: str, new: bool = False, note: str | None = None):
    session = db_session()
    try:
        row = versions.publish(session, registry(), current_user, form, text, note)
        session.commit()
    except MetadataInvalid as exc:
        session.rollback()
        return _editor(form, text, exc.issues, 422, new)
    except ChangeRefused as exc:
        session.rollback()
        flash(_("Not published: %(reason)s", reason=str(exc)), "error")
        return _editor(form, text, (), 409, new)
    flash(_("Version %(v)s of %(form)s is live.", v=row.version, form=form), "info")
    return redirect(url_for("forms_admin.versions_view", form=form))


@bp.post("/<form>/publish")
@login_required
def publish(form):
    _guard(form)
    _known(form)
    return _publish(form, request.form.get("yaml", ""), note=request.form.get("note") or None)


@bp.get("/<form>/versions")
@login_required
def versions_view(form):
    _guard(form)
    _known(form)
    return render_template(
        "admin_forms/versions.html",
        name=form,
        history=versions.history(db_session(), registry(), form),
        locale=locale(),
    )


@bp.get("/<form>/versions/<int:version>")
@login_required
def version_view(form, version):
    _guard(form)
    session = db_session()
    text = versions.text_of(session, registry(), form, version)
    if text is None:
        abort(404)
    against = request.args.get("against", type=int)
    diff = versions.diff(session, registry(), form, against, version) if against else None
    return render_template(
        "admin_forms/version.html", name=form, version=version, text=text, diff=diff,
        against=against, locale=locale(),
    )  # fmt: skip


@bp.post("/<form>/versions/<int:version>/rollback")
@login_required
def rollback(form, version):
    _guard(form)
    _known(form)
    session = db_session()
    try:
        row = versions.rollback(session, registry(), current_user, form, version)
        session.commit()
    except (ChangeRefused, MetadataInvalid) as exc:
        session.rollback()
        flash(_("Not rolled back: %(reason)s", reason=str(exc)), "error")
        return redirect(url_for("forms_admin.versions_view", form=form))
    flash(_("Version %(v)s of %(form)s is live.", v=row.version, form=form), "info")
    return redirect(url_for("forms_admin.versions_view", form=form))


@bp.get("/<form>/export")
@login_required
def export(form):
    """Download the live YAML, to commit it back to ``metadata/forms/``."""
    _guard(form)
    _known(form)
    return Response(
        registry().form(form).yaml_text,
        mimetype="application/x-yaml",
        headers={"Content-Disposition": f"attachment; filename={form}.yaml"},
    )
