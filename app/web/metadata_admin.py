"""Admin pages to edit metadata live, the same way for every edited kind (forms, workflows,
reports, roles …): a YAML editor checked as you type with a preview, drafts, publish, version
history with diffs, rollback, export, and brand-new definitions; for the kinds that have one, a
visual designer beside the YAML that changes the text for the admin (``Editor.designed``).

Each kind describes itself once in an ``Editor`` (its blueprint, URL parameter, words and how its
live definition is found); ``install`` gives it the routes. Only the preview and the designer
differ: a form previews as the rendered form, a report runs its draft on live data (see
forms_admin and reports_admin).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup

from app.i18n import _
from app.meta import access, versions
from app.meta.access import PermissionDenied
from app.meta.forms import label_text
from app.meta.records import locale
from app.meta.registry import FORMS, Edited, Registry
from app.meta.versions import ChangeRefused
from app.meta.yaml_edit import IDENTIFIER, DesignRefused
from app.meta.yamlsource import MetadataInvalid
from app.web.forms_common import registry
from app.web.session import db_session


def role_choices() -> list[tuple[str, str]]:
    """The live roles a designer offers to tick, as (name, label in the reader's language)."""
    here = locale()
    return [(name, label_text(role.get("label"), here) or name)
            for name, role in registry().metadata.roles.items()]  # fmt: skip


def posted_text() -> str:
    """The YAML the editor sent, with the line ends it was typed with: a browser sends a
    textarea's lines ended by CR LF, which would otherwise be stored, diffed and exported."""
    return request.form.get("yaml", "").replace("\r\n", "\n")


@dataclass(frozen=True)
class Editor:
    """What the pages need to know about one edited kind of metadata."""

    blueprint: Blueprint
    kind: Edited
    #: The URL parameter naming a definition (``form``, ``report``).
    param: str
    #: The YAML a brand-new definition starts from, with ``{name}`` to fill.
    new_yaml: str
    #: The live definition called ``name``, or None.
    find: Callable[[Registry, str], object | None]
    #: The live YAML text of a definition that exists.
    live_text: Callable[[Registry, str], str]
    #: The live definitions as (name, label in the user's language), sorted by name.
    listing: Callable[[Registry], list[tuple[str, str]]]
    #: Words of the pages, translated when shown: title of the list, "New …", "Edit …",
    #: "… name", the refusal of a bad name, of a name in use (with ``%(name)s``).
    words: dict[str, Callable[..., str]]
    #: The endpoint previewing the YAML being typed (htmx), and whether it takes parameters.
    preview: str = "preview"
    preview_params: bool = False
    #: Whether roles grant "admin" per definition (forms: ``forms: {receipt: [admin]}``).
    rights_per_name: bool = False
    #: HTML shown under the editor, for reference while typing (the workflow actions).
    aside: Callable[[], Markup] | None = None
    #: The endpoint drawing a visual designer beside the YAML (htmx), for kinds that have one.
    designer: str | None = None

    def url(self, endpoint: str, name: str | None = None, **values) -> str:
        if name is not None:
            values[self.param] = name
        return url_for(f"{self.blueprint.name}.{endpoint}", **values)

    def guard(self, name: str | None = None) -> None:
        try:
            access.require(current_user, "admin", name if self.rights_per_name else None)
        except PermissionDenied:
            abort(403)

    def known(self, name: str) -> None:
        if self.find(registry(), name) is None:
            abort(404)

    def opened(self, values: dict, known: bool = True) -> str:
        """The definition a route names, once the admin's right (and that it exists) is checked."""
        name = values[self.param]
        self.guard(name)
        if known:
            self.known(name)
        return name

    def checked(self, name: str) -> tuple[list, object | None]:
        """``(issues, definition or None)`` of the YAML being typed as ``name``, for the htmx
        previews, once the admin's right is checked; nothing is written."""
        self.guard(name)
        if not IDENTIFIER.match(name):
            abort(404)
        text = posted_text()
        given = (request.form.get("name") or "").strip()
        if given != name and IDENTIFIER.match(given):  # a new page's name box: what it is given
            name, text = given, versions.named(self.kind, given, text)
        session = db_session()
        found = versions.check_text(session, registry(), name, text, self.kind)
        session.rollback()
        return found

    def designed(self, name: str, changes: dict[str, Callable], draw: Callable[[str], object]):
        """What a designer's htmx answer shows, after the change the request's ``op`` asks for
        (``changes[op](text, form)``, refused with ``DesignRefused``): the designer drawn by
        ``draw`` from the new text (or the old one, after a refusal), and the new text, which
        the page swaps into the YAML editor and so into the preview."""
        self.guard(name)
        text, op = posted_text(), request.form.get("op", "show")
        changed, refused = None, None
        if op in changes:
            try:
                changed = changes[op](text, request.form)
            except DesignRefused as exc:
                refused = exc
        try:
            drawn = draw(changed if changed is not None else text)
        except DesignRefused as exc:
            drawn, refused = None, exc
        return {"drawn": drawn, "refused": refused, "op": op, "changed": changed,
                "path": request.form.get("path"), "editor": self, "name": name}  # fmt: skip

    def editor_page(self, name: str, text: str, issues=(), status=200, new=False):
        history = [] if new else versions.history(db_session(), registry(), name, self.kind)
        # the version the admin's edit starts from: the live one, or the one first opened
        opened = _opened_version() or next((v.version for v in history if v.live), None)
        return render_template(
            "admin_metadata/edit.html", editor=self, name=name, text=text, issues=issues,
            new=new, history=history, locale=locale(), opened_version=opened,
        ), status  # fmt: skip

    def publish_text(self, name: str, text: str, new: bool = False, note: str | None = None):
        session = db_session()
        removed = (
            versions.removed_with_values(session, registry(), name, text)
            if self.kind is FORMS else []
        )  # fmt: skip
        try:
            row = versions.publish(session, registry(), current_user, name, text, note, self.kind,
                                   opened=_opened_version())  # fmt: skip
            session.commit()
        except MetadataInvalid as exc:
            session.rollback()
            return self.editor_page(name, text, exc.issues, 422, new)
        except ChangeRefused as exc:
            session.rollback()
            flash(_("Not published: %(reason)s", reason=str(exc)), "error")
            return self.editor_page(name, text, (), 409, new)
        flash(_("Version %(v)s of %(form)s is live.", v=row.version, form=name), "info")
        for path, count in removed:
            flash(_("Field %(field)s left the form: the %(count)s records holding a value keep it, "
                    "shown on each as recorded under an earlier version.",
                    field=path, count=count), "info")  # fmt: skip
        return redirect(self.url("versions_view", name))


def _opened_version() -> int | None:
    """The version the editor being posted was opened on (None: not said, e.g. a script)."""
    value = request.form.get("opened_version", "") if request.method == "POST" else ""
    return int(value) if value.isdigit() else None


def single_file(
    blueprint: Blueprint,
    kind: Edited,
    document: Callable[[Registry], object],
    title: Callable[[], str],
    edit: Callable[[], str],
    designer: str | None = None,
) -> Editor:
    """The editor of a single-file kind (roles.yaml, settings.yaml): its one definition, named
    ``kind.only``, whose live document ``document`` finds; nothing to add, so no new-page words."""
    unused = lambda *args, **kwargs: ""  # noqa: E731
    return Editor(
        blueprint=blueprint,
        kind=kind,
        param=kind.only,
        new_yaml="",
        find=lambda reg, name: document(reg) if name == kind.only else None,
        live_text=lambda reg, name: document(reg).text,
        listing=lambda reg: [(kind.only, title())],
        words={
            "title": title,
            "edit": edit,
            "column": lambda: _("Definition"),
            "new": unused,
            "name_label": unused,
            "bad_name": unused,
            "name_in_use": unused,
        },  # fmt: skip
        preview="check",
        designer=designer,
    )


def install(editor: Editor) -> None:
    """Add the editing routes of ``editor``'s kind to its blueprint."""
    bp, param = editor.blueprint, editor.param

    @bp.get("/")
    @login_required
    def index():
        editor.guard()
        reg, session = registry(), db_session()
        rows = [
            (name, label, versions.current_version(session, reg, name, editor.kind))
            for name, label in editor.listing(reg)
        ]
        return render_template("admin_metadata/index.html", editor=editor, rows=rows)

    @bp.route("/new", methods=["GET", "POST"])
    @login_required
    def new():
        editor.guard()
        if editor.kind.only:  # a single file (roles.yaml): edited, never added
            abort(404)
        name = (request.values.get("name") or "").strip()
        if request.method == "GET":
            name = name or f"new_{editor.kind.name}"
            return editor.editor_page(name, editor.new_yaml.format(name=name), new=True)
        text = posted_text()
        if not IDENTIFIER.match(name):
            flash(editor.words["bad_name"](), "error")
            return editor.editor_page(name, text, status=422, new=True)
        if editor.find(registry(), name) is not None:
            flash(editor.words["name_in_use"](name=name), "error")
            return editor.editor_page(name, text, status=422, new=True)
        return editor.publish_text(name, versions.named(editor.kind, name, text), new=True)

    @bp.get(f"/<{param}>/edit")
    @login_required
    def edit(**values):
        name = editor.opened(values)
        draft = versions.draft_of(db_session(), name, editor.kind)
        return editor.editor_page(
            name, draft.yaml_text if draft else editor.live_text(registry(), name)
        )

    @bp.post(f"/<{param}>/draft")
    @login_required
    def draft(**values):
        name = editor.opened(values)
        session = db_session()
        versions.save_draft(session, current_user, name, posted_text(), editor.kind)
        session.commit()
        flash(_("Draft saved; it is not live until you publish it."), "info")
        return redirect(editor.url("edit", name))

    @bp.post(f"/<{param}>/publish")
    @login_required
    def publish(**values):
        name = editor.opened(values)
        note = request.form.get("note") or None
        return editor.publish_text(name, posted_text(), note=note)

    @bp.get(f"/<{param}>/versions")
    @login_required
    def versions_view(**values):
        name = editor.opened(values)
        history = versions.history(db_session(), registry(), name, editor.kind)
        return render_template(
            "admin_metadata/versions.html", editor=editor, name=name, history=history
        )

    @bp.get(f"/<{param}>/versions/<int:version>")
    @login_required
    def version_view(version, **values):
        name = editor.opened(values, known=False)
        session = db_session()
        text = versions.text_of(session, registry(), name, version, editor.kind)
        if text is None:
            abort(404)
        against = request.args.get("against", type=int)
        diff = (
            versions.diff(session, registry(), name, against, version, editor.kind)
            if against
            else None
        )
        return render_template(
            "admin_metadata/version.html", editor=editor, name=name, version=version, text=text,
            diff=diff, against=against,
        )  # fmt: skip

    @bp.post(f"/<{param}>/versions/<int:version>/rollback")
    @login_required
    def rollback(version, **values):
        name = editor.opened(values)
        session = db_session()
        try:
            row = versions.rollback(session, registry(), current_user, name, version, editor.kind)
            session.commit()
        except (ChangeRefused, MetadataInvalid) as exc:
            session.rollback()
            flash(_("Not rolled back: %(reason)s", reason=str(exc)), "error")
            return redirect(editor.url("versions_view", name))
        flash(_("Version %(v)s of %(form)s is live.", v=row.version, form=name), "info")
        return redirect(editor.url("versions_view", name))

    @bp.get(f"/<{param}>/export")
    @login_required
    def export(**values):
        """Download the live YAML, to commit it back to ``metadata/``."""
        name = editor.opened(values)
        return Response(
            editor.live_text(registry(), name),
            mimetype="application/x-yaml",
            headers={"Content-Disposition": f"attachment; filename={name}.yaml"},
        )
