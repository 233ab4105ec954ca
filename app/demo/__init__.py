"""The demo chain: what ``lianku demo`` and ``make run`` load into an empty database.

``catalogue`` reads ``metadata/demo/*.yaml`` and grows it to the size asked for, ``master`` makes
the locations, users, items, suppliers and customers, ``flows`` are the document flows (one small
function each), ``history`` replays them day by day up to today and ``job`` runs all that as a
job. Everything goes through the same services as real use, so the demo doubles as a smoke test
of the whole application.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.demo.catalogue import Catalogue
from app.demo.history import Options, Progress, Summary, Transaction, generate, unfinished
from app.demo.master import (
    DEMO_PASSWORD,
    HQ_USERS,
    REGION_USERS,
    STORE_USERS,
    WAREHOUSE_USERS,
    username_for,
)
from app.kernel.locations import Location, LocationType
from app.kernel.users import User
from app.meta import registry as meta_registry

__all__ = [
    "DEMO_PASSWORD",
    "Catalogue",
    "Options",
    "Progress",
    "Summary",
    "Transaction",
    "generate",
    "is_empty",
    "load",
    "logins",
    "print_logins",
    "unfinished",
]


def is_empty(session: Session) -> bool:
    return session.scalar(select(func.count()).select_from(User)) == 0


def load(
    transaction: Transaction,
    metadata_dir: Path,
    workflows_dir: Path,
    options: Options = Options(),
    progress: Progress | None = None,
) -> Summary:
    """Load the demo chain from the shipped metadata (``metadata_dir/demo`` is its catalogue)."""
    with transaction() as session:
        registry = meta_registry.build(metadata_dir, workflows_dir, session)
    catalogue = Catalogue.read(Path(metadata_dir) / "demo")
    return generate(transaction, registry, catalogue, options, progress)


def logins(session: Session) -> list[tuple[str, str, str]]:
    """(role, username, location) of the demo users worth showing: every HQ role, the users of
    the first region, the first two stores and the first warehouse (the others follow the same
    pattern)."""
    regions = _first(session, LocationType.region, 1)
    stores = _first(session, LocationType.store, 2)
    warehouses = _first(session, LocationType.warehouse, 1)
    wanted = [(role, username, "HQ") for username, role, _title in HQ_USERS]
    for codes, roles in (
        (regions, REGION_USERS), (stores, STORE_USERS), (warehouses, WAREHOUSE_USERS)
    ):  # fmt: skip
        wanted += [
            (role, username_for(code, suffix), code) for code in codes for suffix, role, _t in roles
        ]
    present = set(session.scalars(select(User.username)))
    return [row for row in wanted if row[1] in present]


def _first(session: Session, kind: LocationType, count: int) -> list[str]:
    query = select(Location.code).where(Location.type == kind).order_by(Location.id).limit(count)
    return list(session.scalars(query))


def print_logins(session: Session, echo: Callable[[str], None]) -> None:
    rows = logins(session)
    if not rows:
        return
    echo(f"demo logins (password for all: {DEMO_PASSWORD}):")
    echo(f"  {'role':<22} {'username':<20} location")
    for role, username, location in rows:
        echo(f"  {role:<22} {username:<20} {location}")
    echo("  every region has <code>_manager, every store <code>_manager and <code>_clerk, every "
         "warehouse <code>_supervisor and <code>_clerk (e.g. r_north_manager, hz01_clerk, "
         "wh_bj_clerk)")  # fmt: skip
