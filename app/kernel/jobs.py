"""Jobs: long work (exports, imports, replenishment plans, expiry scans, webhooks, demo data)
recorded in the database and run by a worker instead of inside a web request.

A job row says who started it, with what parameters, how far it got and how it ended (a result
file or an error). Workers claim queued jobs one at a time; on PostgreSQL many workers share the
queue through ``FOR UPDATE SKIP LOCKED``, on SQLite the write lock serialises claims. Handlers are
registered by kind with ``@handler("export")``; the layer that owns the work registers it.

A handler whose work failed for a reason that may pass (an endpoint that is down) raises
``JobRetry``: the job is queued again, not to be claimed before its ``run_after``, and counts its
``attempts``; the handler decides when to give up (``JobFailed``).
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
import traceback
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import JSON, Enum, ForeignKey, Integer, String, Text, or_, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db import Base, Database, UTCDateTime, utcnow
from app.i18n import _
from app.kernel import audit, process_locks

log = logging.getLogger("lianku.jobs")


class JobStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    done = "done"
    failed = "failed"


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[JobStatus] = mapped_column(
        Enum(JobStatus, native_enum=False, length=16, validate_strings=True),
        default=JobStatus.queued,
        index=True,
    )
    progress: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(String(256))
    result: Mapped[dict | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    #: How many times a worker has claimed it (more than once when its handler asked to retry).
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: A queued job is not claimed before this (set when its handler asked to retry later).
    run_after: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class JobFailed(Exception):
    """Raised by a handler to fail its job with a message for the person who started it."""


class JobRetry(Exception):
    """Raised by a handler whose attempt failed for a reason that may pass: the job is queued
    again to run after ``delay``; the message says why this attempt failed."""

    def __init__(self, message: str, delay: dt.timedelta):
        super().__init__(message)
        self.delay = delay


class CannotRunAgain(Exception):
    """Only a job that failed is run again (one done, queued or running would run twice)."""


@dataclass
class JobRun:
    """What a handler gets: its job's id and parameters, and a way to report progress."""

    database: Database
    job_id: int
    params: dict
    #: Where result files go (the instance folder); results name files relative to it.
    files_dir: Path | None = None
    #: Which attempt at the job this is: 1, then one more each time a handler asked to retry.
    attempt: int = 1

    def result_file(self, name: str) -> tuple[Path, str]:
        """A fresh path for a result file, and the name to store in the job's result."""
        if self.files_dir is None:
            raise JobFailed("this worker has no folder for result files")
        relative = f"exports/job-{self.job_id}-{name}"
        path = self.files_dir / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        return path, relative

    def progress(self, percent: int, message: str | None = None) -> None:
        """Record progress in its own short transaction, so the jobs page sees it at once."""
        with self.database.transaction() as session:
            session.execute(
                update(Job)
                .where(Job.id == self.job_id)
                .values(progress=max(0, min(100, int(percent))), message=message)
            )


Handler = Callable[[JobRun], dict | None]
#: What a job runs inside: the worker makes it the language of the person who started it, so
#: the job's messages and errors read in that person's language on /jobs.
JobContext = Callable[[Job], AbstractContextManager]
HANDLERS: dict[str, Handler] = {}
#: A translatable label per kind, for the jobs page.
LABELS: dict[str, object] = {}
#: Seconds a kind's job may run, for the kinds that declare their own (else the worker's).
TIME_LIMITS: dict[str, int] = {}
#: Kinds whose jobs are followed by admins only, not by whoever's action queued them: a webhook
#: a clerk's transition queued is the integration's business, and only an admin can mend it.
ADMINS_ONLY: set[str] = set()


def handler(
    kind: str, label: object = None, time_limit: int | None = None, admins_only: bool = False
) -> Callable[[Handler], Handler]:
    """Register the function that runs jobs of ``kind``; it returns the job's result (or None).

    A result may name a file it wrote: ``{"file": "<path under instance/>", "filename": ...}``.
    ``time_limit`` (seconds) replaces the worker's limit for this kind. ``admins_only``: its
    jobs are shown and run again to admins only (``ADMINS_ONLY``), not to their starter.
    """

    def register(func: Handler) -> Handler:
        HANDLERS[kind] = func
        LABELS[kind] = label or kind
        if time_limit is not None:
            TIME_LIMITS[kind] = time_limit
        if admins_only:
            ADMINS_ONLY.add(kind)
        return func

    return register


def enqueue(session: Session, kind: str, params: dict | None = None, user_id: int | None = None):
    """Queue a job inside the caller's transaction; it runs once that commits."""
    if kind not in HANDLERS:
        raise ValueError(f"no handler for job kind {kind!r}")
    job = Job(kind=kind, params=params or {}, created_by=user_id, status=JobStatus.queued)
    session.add(job)
    session.flush()
    return job


def run_again(session: Session, job: Job, user_id: int | None) -> Job:
    """Queue ``job`` again, same kind and parameters, as a new job started by ``user_id``.

    The failed job stays as it ended: its error is part of the history. The new job is
    ``user_id``'s (an admin running a clerk's failed job again runs it as themselves: the
    handler checks that starter's rights when it runs), and the audit trail says who ran which
    job again, and whose it was.
    """
    if job.status != JobStatus.failed:
        raise CannotRunAgain(_("Only a job that failed can be run again."))
    again = enqueue(session, job.kind, dict(job.params or {}), user_id)
    changes = {"kind": job.kind, "queued_as": again.id, "started_by": job.created_by}
    audit.record(session, "run_again", "job", job.id, changes=changes)
    return again


def _worker_lock(job_id: int) -> str:
    """The lock a job's worker holds while it runs the job (``process_locks``)."""
    return f"job-{job_id}"


@contextmanager
def claimed(database: Database, context: JobContext = nullcontext) -> Iterator[Job | None]:
    """Take the oldest queued job and mark it running; ``None`` when the queue is empty. The
    same transaction first fails the jobs whose worker is gone (``fail_abandoned``): one
    transaction per look at the queue.

    Its worker's lock is taken before the claim commits and held until the block ends, so a
    ``running`` job whose lock nobody holds is one whose worker is gone.
    """
    with ExitStack() as alive:
        with database.transaction() as session:
            _fail_abandoned(session, database, context)
            query = (
                select(Job)
                .where(Job.status == JobStatus.queued)
                .where(or_(Job.run_after.is_(None), Job.run_after <= utcnow()))
                .order_by(Job.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            job = session.scalar(query)
            if job is not None:
                alive.enter_context(process_locks.hold(database, _worker_lock(job.id)))
                job.status, job.started_at = JobStatus.running, utcnow()
                job.attempts = (job.attempts or 0) + 1
                if job.run_after is not None:  # a retry: why the last attempt failed is past
                    job.message = None
                session.flush()
                session.expunge(job)
        yield job


def fail_abandoned(database: Database, context: JobContext = nullcontext) -> list[int]:
    """Fail the jobs left ``running`` by a worker that stopped before finishing them (killed,
    crashed, its machine restarted); returns their ids.

    Without this such a job would show as running forever. It is failed rather than run again:
    what it did before it stopped (files, records, messages sent) may not bear doing twice, and
    the person who started it decides.
    """
    with database.transaction() as session:
        return _fail_abandoned(session, database, context)


def _fail_abandoned(session: Session, database: Database, context: JobContext) -> list[int]:
    running = session.scalars(
        select(Job)
        .where(Job.status == JobStatus.running)
        .order_by(Job.id)
        .with_for_update(skip_locked=True)
    ).all()
    abandoned = [
        job for job in running if not process_locks.is_held(database, _worker_lock(job.id))
    ]
    for job in abandoned:
        log.warning("job %s (%s) was left running by a worker that stopped", job.id, job.kind)
        job.status, job.finished_at = JobStatus.failed, utcnow()
        with context(job):
            job.error = _(
                "The worker running this job stopped before the job finished"
                " (at %(progress)d%%). Check what it did, then start it again.",
                progress=job.progress,
            )
    return [job.id for job in abandoned]


def fail_overdue(database: Database, job: Job, limit: int) -> bool:
    """Fail ``job``, still running past its time limit of ``limit`` seconds; False if it ended
    meanwhile. Its handler is not stopped by this: the worker running it must stop (see
    ``app.worker``), and the handler's open transaction is then rolled back.
    """
    with database.transaction() as session:
        running = session.get(Job, job.id, with_for_update=True)
        if running is None or running.status != JobStatus.running:
            return False
        running.status, running.finished_at = JobStatus.failed, utcnow()
        running.error = _(
            "The job ran longer than its time limit of %(limit)d seconds and was stopped"
            " (at %(progress)d%%). Check what it did, then start it again.",
            limit=limit,
            progress=running.progress,
        )
    log.error("job %s (%s) ran past its time limit of %d s", job.id, job.kind, limit)
    # its worker exits next, holding the job's lock to the end: nothing will remove its file
    process_locks.abandon(database, _worker_lock(job.id))
    return True


def run_next(
    database: Database, files_dir: Path | None = None, context: JobContext = nullcontext
) -> Job | None:
    """Claim and run one job to its end (inside ``context(job)``); returns the finished job, or
    None if none was queued.

    First fails the jobs whose worker is gone, so that a worker that restarts after a crash
    closes what it (or another) left behind.
    """
    with claimed(database, context) as job:
        if job is None:
            return None
        with context(job):
            run = JobRun(database, job.id, dict(job.params or {}), files_dir, attempt=job.attempts)
            outcome = _run(job, run)
        with database.transaction() as session:  # (unless it was failed as overdue meanwhile)
            session.execute(
                update(Job)
                .where(Job.id == job.id, Job.status == JobStatus.running)
                .values(**outcome)
            )
    with database.session() as session:
        return session.get(Job, job.id)


def _run(job: Job, run: JobRun) -> dict:
    """The job's handler run to its end: what to record of how it ended."""
    outcome: dict = {}
    try:
        result = HANDLERS[job.kind](run)
        outcome.update(status=JobStatus.done, progress=100, result=result)
    except JobFailed as exc:
        outcome.update(status=JobStatus.failed, error=str(exc))
    except JobRetry as exc:
        outcome.update(
            status=JobStatus.queued, run_after=utcnow() + exc.delay, message=str(exc)[:256]
        )
        return outcome
    except Exception as exc:  # a bug in a handler must fail its job, not kill the worker
        log.exception("job %s (%s) crashed", job.id, job.kind)
        outcome.update(status=JobStatus.failed, error=f"{type(exc).__name__}: {exc}")
        outcome["message"] = traceback.format_exception_only(exc)[-1].strip()[:256]
    outcome["finished_at"] = utcnow()
    return outcome


def run_until_empty(
    database: Database,
    limit: int | None = None,
    files_dir: Path | None = None,
    context: JobContext = nullcontext,
) -> int:
    """Run queued jobs until none is left (or ``limit`` ran); returns how many ran."""
    count = 0
    while limit is None or count < limit:
        if run_next(database, files_dir, context) is None:
            break
        count += 1
    return count
