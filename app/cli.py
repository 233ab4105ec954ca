"""The ``lianku`` command: init, demo, check, run, user add, period close, audit verify —
operators and cron."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import click
from sqlalchemy.engine import make_url

import app.workflow  # noqa: F401  (registers the workflow's load-time checks)
from app.config import load_settings
from app.db import Database
from app.kernel.items import use_business_timezone
from app.meta import MetadataInvalid, load_metadata


def _database() -> Database:
    settings = load_settings()
    use_business_timezone(settings.timezone)
    return Database(settings.database_url)


@click.group(help="Lianku 联库 — metadata-driven inventory for medical-device chains.")
def main() -> None:
    pass


@main.command()
def init() -> None:
    """Create the database or upgrade it to the latest migration."""
    from app.migrate import current_revision, upgrade

    db = _database()
    upgrade(db.engine)
    click.echo(f"database at revision {current_revision(db.engine)} ({db.dialect})")
    db.dispose()


@main.command()
def check() -> None:
    """Validate all metadata and the installed action plugins; list every problem (each file
    where it is on disk, each broken plugin by its distribution and entry point) and exit
    non-zero if there is any."""
    from app.meta.loader import on_disk

    settings = load_settings()
    try:
        metadata = load_metadata(settings.metadata_dir, settings.workflows_dir)
    except MetadataInvalid as exc:
        for issue in exc.issues:
            click.echo(str(on_disk(issue, settings.metadata_dir, settings.workflows_dir)), err=True)
        click.echo(f"{len(exc.issues)} problem(s) found", err=True)
        sys.exit(1)
    counts = ", ".join(f"{count} {kind}" for kind, count in metadata.summary().items())
    click.echo(f"metadata OK: {counts}")


@main.command()
@click.option("--if-empty", is_flag=True, help="Only load when the database has no users yet.")
@click.option("--stores", default=20, show_default=True, type=click.IntRange(min=1))
@click.option("--warehouses", default=5, show_default=True, type=click.IntRange(min=1))
@click.option("--items", default=200, show_default=True, type=click.IntRange(min=1))
@click.option("--days", default=90, show_default=True, type=click.IntRange(min=1),
              help="Days of history, ending today.")  # fmt: skip
@click.option("--seed", default=1, show_default=True, help="The same seed gives the same chain.")
def demo(if_empty: bool, **options) -> None:
    """Load the demo chain: locations, users, items, suppliers and the documents of its history."""
    from app import demo as demo_chain

    settings = load_settings()
    db = _database()
    with db.session() as session:
        empty = demo_chain.is_empty(session)
        unfinished = not empty and demo_chain.unfinished(session)
    if unfinished:  # starting the app on half a chain would only puzzle whoever looks at it
        db.dispose()
        raise click.ClickException(
            "an earlier demo load stopped before its last day and the database holds part of a "
            f"chain: remove it ({make_url(settings.database_url).render_as_string()}) and load "
            "the demo again"
        )
    if not empty and not if_empty:
        db.dispose()
        raise click.ClickException(
            "the database has users already; the demo chain loads only into an empty one"
        )
    if not empty:
        click.echo("database not empty; demo data not loaded again")
    else:
        chosen = demo_chain.Options(**options)
        with click.progressbar(length=chosen.days + 1, label="demo chain", file=sys.stderr) as bar:
            summary = demo_chain.load(
                db.transaction, settings.metadata_dir, settings.workflows_dir, chosen,
                progress=lambda done, _total, _message: bar.update(done - bar.pos),
            )  # fmt: skip
        click.echo(
            f"demo data loaded: {summary.locations} locations, {summary.users} users, "
            f"{summary.items} items, {summary.purchase_receipts} purchase receipts, "
            f"{summary.sales_orders} sales orders, {summary.transfers} transfers"
        )
        click.echo("documents: " + ", ".join(
            f"{form} {sum(states.values())}" for form, states in sorted(summary.documents.items())
        ))  # fmt: skip
        if summary.closed_months:
            click.echo(f"months closed (结账): {', '.join(summary.closed_months)}")
    with db.session() as session:
        demo_chain.print_logins(session, click.echo)
    db.dispose()


def _app_or_exit():
    """The application, or exit saying why the metadata will not load."""
    from app import create_app

    try:
        return create_app()
    except MetadataInvalid as exc:
        click.echo(f"refusing to start, the metadata or a plugin is invalid:\n{exc}", err=True)
        sys.exit(1)


def _run_queue(app) -> None:
    """Run the queued jobs to the end, each in the language of whoever started it."""
    from app.kernel.jobs import run_until_empty
    from app.worker import in_starters_language, load_handlers

    load_handlers()
    database = app.extensions["lianku.db"]
    context = in_starters_language(app)
    ran = run_until_empty(database, files_dir=Path(app.instance_path), context=context)
    click.echo(f"{ran} job(s) run")


@main.command()
@click.option("--once", is_flag=True, help="Run the queued jobs, then exit (for cron).")
@click.option("--poll", default=1.0, show_default=True, help="Seconds between queue checks.")
def worker(once: bool, poll: float) -> None:
    """Run queued jobs (exports, imports, scans, webhooks) until stopped.

    A job still running after its time limit (LIANKU_JOB_TIME_LIMIT seconds, 3600 unless its
    kind sets one) is failed and the worker exits with status 3, for its supervisor to start a
    fresh one.
    """
    from app.worker import Worker

    app = _app_or_exit()
    if once:
        _run_queue(app)
        app.extensions["lianku.db"].dispose()
        return
    runner = Worker(app, poll_seconds=poll, time_limits=True)

    signals: list[int] = []

    def stop(signum, frame) -> None:
        """The first TERM or INT lets the job under way finish (a deploy, systemd's stop); a
        second one stops at once, and the next worker fails the job it leaves behind.

        Counted first thing: a second signal can arrive while this handler is still running for
        the first, and Python then runs the second handler inside the first.
        """
        signals.append(signum)
        if len(signals) > 1:
            raise SystemExit(1)
        runner.stop()
        click.echo("stopping after the job under way (signal again to stop now)", err=True)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    runner.start()
    while runner.is_alive():
        runner.join(0.5)  # (a join with a timeout lets the signal handler run)


@main.command()
@click.argument("kind")
@click.option("--run", "run_now", is_flag=True, help="Run the queue now instead of leaving it.")
def enqueue(kind: str, run_now: bool) -> None:
    """Queue a job of KIND (e.g. approval_reminders) — what cron calls."""
    from app.kernel import jobs
    from app.worker import load_handlers

    load_handlers()
    if kind not in jobs.HANDLERS:
        click.echo(
            f"unknown job kind {kind!r}; known: {', '.join(sorted(jobs.HANDLERS))}", err=True
        )
        sys.exit(2)
    app = _app_or_exit()
    with app.extensions["lianku.db"].transaction() as session:
        click.echo(f"job {jobs.enqueue(session, kind).id} queued ({kind})")
    if run_now:
        _run_queue(app)
    app.extensions["lianku.db"].dispose()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--debug", is_flag=True)
@click.option("--no-worker", is_flag=True, help="Do not run jobs in this process.")
def run(host: str, port: int, debug: bool, no_worker: bool) -> None:
    """Serve the app with an in-process job worker (production: gunicorn + lianku worker)."""
    from app.worker import Worker

    app = _app_or_exit()
    if not no_worker:
        Worker(app).start()
    app.run(host=host, port=port, debug=debug, threaded=True, use_reloader=False)


@main.group()
def user() -> None:
    """Users, for the operator (the first admin of a fresh installation, say)."""


@user.command("add")
@click.argument("username")
@click.option("--full-name", required=True)
@click.option("--role", "roles", multiple=True, required=True, help="Repeat for several roles.")
@click.option("--location", "locations", multiple=True, help="Location code; repeatable.")
@click.option("--locale", default="zh_CN", show_default=True, type=click.Choice(["zh_CN", "en"]))
@click.password_option(help="Prompted for (twice) when not given.")
def user_add(username, full_name, roles, locations, locale, password) -> None:
    """Create a user with roles and locations; the password must follow the policy."""
    import getpass

    from sqlalchemy import select

    from app.kernel import audit as audit_trail
    from app.kernel.locations import Location
    from app.kernel.users import PasswordPolicyViolation
    from app.meta import access, identity

    db = _database()
    actor = audit_trail.AuditContext(username=f"cli:{getpass.getuser()}"[:64])
    previous, audit_trail.context_provider = audit_trail.context_provider, lambda: actor
    try:
        with db.transaction() as session:
            ids = {
                loc.code: loc.id
                for loc in session.scalars(select(Location).where(Location.code.in_(locations)))
            }
            unknown = sorted(set(locations) - set(ids))
            if unknown:
                raise click.ClickException(f"unknown location(s): {', '.join(unknown)}")
            created = identity.create_user(
                session, username, full_name, password, roles=list(roles),
                location_ids=list(ids.values()), locale=locale,
            )  # fmt: skip
            click.echo(f"user {created.username} created (id {created.id})")
    except (identity.InvalidAssignment, access.UnknownRole, PasswordPolicyViolation) as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        audit_trail.context_provider = previous
        db.dispose()


@main.group()
def period() -> None:
    """The month-end close (结账): list the closed months, close the next, reopen the latest."""


@period.command("list")
def period_list() -> None:
    """Every close, the latest first (reopened ones say by whom and why)."""
    from app.kernel import periods

    db = _database()
    with db.session() as session:
        closes = periods.history(session)
        for close in closes:
            reopened = f"  reopened: {close.reopen_reason}" if close.reopened_at else ""
            click.echo(f"{close.month}  closed {close.closed_at:%Y-%m-%d %H:%M}Z{reopened}")
        following = periods.next_to_close(session)
    db.dispose()
    if not closes:
        click.echo("no month is closed")
    click.echo(f"next to close: {following:%Y-%m}" if following else "no month to close yet")


def _as_user(session, username: str):
    from sqlalchemy import select

    from app.kernel.users import User

    found = session.scalars(select(User).where(User.username == username)).first()
    if found is None or not found.active:
        raise click.ClickException(f"no active user {username!r}")
    return found


def _in_periods(work) -> None:
    """Run ``work(session, registry)`` as the app's registry sees the metadata; a refusal
    exits 1 naming the documents that keep the month open."""
    from app.kernel.periods import PeriodNotClosable
    from app.meta import registry as meta_registry
    from app.meta.access import PermissionDenied

    app = _app_or_exit()
    db = app.extensions["lianku.db"]
    try:
        with app.app_context(), db.transaction() as session:
            registry = meta_registry.refresh(app.extensions["lianku.registry"], session)
            try:
                click.echo(work(session, registry))
            except PeriodNotClosable as exc:  # named while the documents are at hand
                numbers = " ".join(record.number or str(record.id) for record in exc.unfinished)
                raise click.ClickException(f"{exc} {numbers}".strip()) from exc
    except PermissionDenied as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        db.dispose()


@period.command("close")
@click.argument("month", required=False)
@click.option("--as", "username", required=True, help="The user closing it (finance).")
def period_close(month: str | None, username: str) -> None:
    """Close MONTH (YYYY-MM; by default the next in order) as a finance user would."""
    from app.i18n import _
    from app.kernel import periods
    from app.meta import periods as meta_periods

    def close(session, registry):
        closing = month or periods.next_to_close(session)
        if closing is None:
            raise periods.PeriodNotClosable(_("No month has ended since the last close."))
        done = meta_periods.close_month(session, registry, _as_user(session, username), closing)
        return f"{done.month} closed"

    _in_periods(close)


@period.command("reopen")
@click.option("--as", "username", required=True, help="The user reopening it (finance).")
@click.option("--reason", required=True, help="Why the month is reopened (audited).")
def period_reopen(username: str, reason: str) -> None:
    """Reopen the latest closed month."""
    from app.meta import periods as meta_periods

    def reopen(session, registry):
        done = meta_periods.reopen_month(session, _as_user(session, username), reason)
        return f"{done.month} reopened"

    _in_periods(reopen)


@main.group()
def package() -> None:
    """A company's customizations (published forms, workflows, reports…) as one zip."""


@package.command("export")
@click.argument("path", type=click.Path(dir_okay=False, writable=True, path_type=Path))
def package_export(path: Path) -> None:
    """Write every published definition, at its live version, to PATH."""
    from app.meta import packages
    from app.meta import registry as meta_registry

    app = _app_or_exit()
    with app.extensions["lianku.db"].session() as session:
        live = meta_registry.refresh(app.extensions["lianku.registry"], session)
        path.write_bytes(packages.export_package(session, live))
    app.extensions["lianku.db"].dispose()
    click.echo(f"customizations written to {path}")


@package.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--note", help="What the package changes, for the versions' history.")
def package_import(path: Path, note: str | None) -> None:
    """Publish what the package at PATH changes — all of it or, on any refusal, nothing."""
    import getpass

    from app.kernel import audit as audit_trail
    from app.meta import packages
    from app.meta import registry as meta_registry
    from app.meta.versions import ChangeRefused

    app = _app_or_exit()
    actor = audit_trail.AuditContext(username=f"cli:{getpass.getuser()}"[:64])
    previous, audit_trail.context_provider = audit_trail.context_provider, lambda: actor
    try:
        with app.extensions["lianku.db"].transaction() as session:
            live = meta_registry.refresh(app.extensions["lianku.registry"], session)
            imported = packages.import_package(session, live, None, path.read_bytes(), note)
    except (MetadataInvalid, ChangeRefused) as exc:
        raise click.ClickException(f"nothing was published: {exc}") from exc
    finally:
        audit_trail.context_provider = previous
        app.extensions["lianku.db"].dispose()
    for item in imported:
        click.echo(f"published {item.kind} {item.name} v{item.version}")
    if not imported:
        click.echo("the package changes nothing: every definition in it is already live")


@main.group()
def audit() -> None:
    """The tamper-evident audit trail."""


@audit.command("verify")
def audit_verify() -> None:
    """Walk every chain of the audit trail; name the first entry that does not match, exit 1."""
    from app.kernel import audit as audit_trail

    db = _database()
    with db.session() as session:
        breaks = audit_trail.verify(session)
        entries, chains = audit_trail.chain_summary(session)
    db.dispose()
    if breaks:
        for found in breaks:
            click.echo(f"audit trail BROKEN: {found}", err=True)
        sys.exit(1)
    click.echo(f"audit trail OK: {entries} entries in {chains} chains")


if __name__ == "__main__":
    main()
