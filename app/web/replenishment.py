"""The replenishment page: run the plan now (a job, followed on /jobs) and see the last runs.

The plan itself and the suggestion records are the workflow layer's
(``app/workflow/replenishment.py``); this page only queues the job as the user who asks, so the
plan covers the locations in their data scope.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user, login_required
from sqlalchemy import select

from app.i18n import _
from app.kernel import jobs
from app.meta import access
from app.web.forms_common import registry
from app.web.session import db_session
from app.workflow.replenishment import FORM, plan_settings

bp = Blueprint("replenishment", __name__)
RECENT = 10


@bp.get("/replenishment")
@login_required
def index():
    access.require(current_user, "create", FORM)
    runs = db_session().scalars(
        select(jobs.Job)
        .where(jobs.Job.kind == FORM, jobs.Job.created_by == current_user.id)
        .order_by(jobs.Job.id.desc())
        .limit(RECENT)
    )
    return render_template(
        "replenishment.html", runs=list(runs), settings=plan_settings(registry())
    )


@bp.post("/replenishment/run")
@login_required
def run():
    access.require(current_user, "create", FORM)
    session = db_session()
    job = jobs.enqueue(session, FORM, {"user_id": current_user.id}, user_id=current_user.id)
    session.commit()
    flash(_("Replenishment plan queued as job %(id)s.", id=job.id), "info")
    return redirect(url_for("jobs.index"))
