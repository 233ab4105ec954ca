"""The demo chain as a job (kind ``demo``): a worker loads it and reports its progress by day.

Parameters are ``lianku demo``'s options (``stores``, ``warehouses``, ``items``, ``days``,
``seed``); the result is what was made. It refuses a database that already has users.
"""

from __future__ import annotations

from app.config import load_settings
from app.demo import Options, is_empty, load
from app.i18n import _, _l
from app.kernel import jobs


@jobs.handler("demo", label=_l("Demo chain"))
def load_demo_chain(run: jobs.JobRun) -> dict:
    try:
        options = Options.from_params(run.params)
    except (TypeError, ValueError) as exc:
        raise jobs.JobFailed(str(exc)) from None
    with run.database.session() as session:
        if not is_empty(session):
            raise jobs.JobFailed(_("The demo chain loads only into a database without users."))
    settings = load_settings()

    def progress(done: int, total: int, day: str) -> None:
        run.progress(done * 100 // total, day)

    summary = load(
        run.database.transaction, settings.metadata_dir, settings.workflows_dir, options, progress
    )
    return summary.as_result()
