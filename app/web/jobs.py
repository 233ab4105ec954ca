"""The jobs page: progress of long work (exports, imports, scans) and its results to download."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
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
from app.web.session import db_session

bp = Blueprint("jobs", __name__)
PAGE_SIZE = 50
#: A job queued this long with no worker taking it says no worker is running.
UNCLAIMED_AFTER = dt.timedelta(minutes=1)


def _visible_jobs():
    query = select(Job).order_by(Job.id.desc()).limit(PAGE_SIZE)
    if not access.can(current_user, "admin"):
        query = query.where(Job.created_by == current_user.id)
    return db_session().scalars(query).all()


def _own_job(job_id: int) -> Job:
    job = db_session().get(Job, job_id)
    if job is None or (job.created_by != current_user.id and not access.can(current_user, "admin")):
        abort(404)
    return job


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
    template = "jobs_table.html" if request.headers.get("HX-Request") else "jobs.html"
    return render_template(template, jobs=jobs, labels=LABELS, active=active, unclaimed=unclaimed)


@bp.post("/jobs/<int:job_id>/again")
@login_required
def again(job_id: int):
    """Run one's own failed job again (same parameters), e.g. after its worker stopped."""
    session = db_session()
    job = session.get(Job, job_id)
    if job is None or job.created_by != current_user.id:
        abort(404)
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
