"""The jobs page: progress of long work (exports, imports, scans) and its results to download."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user, login_required
from sqlalchemy import select

from app.db import utcnow
from app.i18n import _
from app.kernel import jobs
from app.kernel.jobs import LABELS, Job, JobStatus
from app.meta import access
from app.meta.records import locale
from app.web.forms_api import api_auth
from app.web.forms_common import registry
from app.web.session import db_session
from app.workflow import engine

bp = Blueprint("jobs", __name__)
PAGE_SIZE = 50
#: A job queued this long with no worker taking it says no worker is running.
UNCLAIMED_AFTER = dt.timedelta(minutes=1)


def _follows(job: Job) -> bool:
    """Whether the current user sees ``job`` and may run it again: an admin every job, anyone
    else the jobs they started, but not those of a kind admins follow (``jobs.ADMINS_ONLY``: a
    webhook a clerk's transition queued is not the clerk's to mend)."""
    if access.can(current_user, "admin"):
        return True
    return job.created_by == current_user.id and job.kind not in jobs.ADMINS_ONLY


def _visible_jobs():
    query = select(Job).order_by(Job.id.desc()).limit(PAGE_SIZE)
    if not access.can(current_user, "admin"):  # what ``_follows`` says, as a query
        query = query.where(Job.created_by == current_user.id)
        query = query.where(Job.kind.not_in(jobs.ADMINS_ONLY))
    return db_session().scalars(query).all()


def _own_job(job_id: int) -> Job:
    job = db_session().get(Job, job_id)
    if job is None or not _follows(job):
        abort(404)
    return job


def _about(job: Job) -> str | None:
    """What a job about a record concerns, for the jobs page — a webhook's "Withdraw · Cold
    receipt CR-0001", from the body it delivers — in the reader's language; None if nothing."""
    body = (job.params or {}).get("body")
    form = registry().form(body.get("form") or "") if isinstance(body, dict) else None
    if form is None:
        return None
    record = f"{form.label(locale())} {body.get('number') or body.get('id') or ''}".strip()
    if not body.get("transition"):
        return record
    return f"{engine.transition_label(form, body['transition'])} · {record}"


@bp.get("/jobs")
@login_required
def index():
    jobs = _visible_jobs()
    active = any(job.status in (JobStatus.queued, JobStatus.running) for job in jobs)
    waiting_since = utcnow() - UNCLAIMED_AFTER
    unclaimed = {
        job.id
        for job in jobs
        if job.status == JobStatus.queued and (job.run_after or job.created_at) < waiting_since
    }
    about = {job.id: _about(job) for job in jobs}
    template = "jobs_table.html" if request.headers.get("HX-Request") else "jobs.html"
    return render_template(
        template, jobs=jobs, labels=LABELS, about=about, active=active, unclaimed=unclaimed
    )


@bp.post("/jobs/<int:job_id>/again")
@login_required
def again(job_id: int):
    """Run a failed job again (same parameters), e.g. after its worker stopped: one's own, or
    as an admin any (a webhook an integration's token queued): the new job is the admin's."""
    session = db_session()
    job = _own_job(job_id)
    try:
        queued = jobs.run_again(session, job, current_user.id)
    except jobs.CannotRunAgain as exc:
        flash(str(exc), "error")
    else:
        session.commit()
        flash(_("Queued again as job %(id)s.", id=queued.id), "info")
    return redirect(url_for("jobs.index"))


@bp.get("/jobs/<int:job_id>/download")
@login_required
def download(job_id: int):
    job = _own_job(job_id)
    result = job.result or {}
    if job.status != JobStatus.done or "file" not in result:
        abort(404)
    instance = Path(current_app.instance_path).resolve()
    path = (instance / result["file"]).resolve()
    if not path.is_relative_to(instance) or not path.is_file():
        abort(404)
    return send_file(path, as_attachment=True, download_name=result.get("filename", path.name))


@bp.get("/api/v1/jobs/<int:job_id>")
@api_auth
def status(job_id: int):
    """A job as a program follows it — the import a 202 answer named, say: its status, progress
    and message, and once it ended its result or error. The jobs the caller may see on /jobs
    (their own; an admin's: any), else 404."""
    job = _own_job(job_id)
    return jsonify(
        id=job.id, kind=job.kind, status=str(job.status), progress=job.progress,
        message=job.message, error=job.error, result=job.result,
        created_at=job.created_at.isoformat(),
        finished_at=job.finished_at.isoformat() if job.finished_at else None,
    )  # fmt: skip
