"""The demo chain: what ``lianku demo`` and ``make run`` load into an empty database.

Demo data goes through the same code paths as real use, so it doubles as a smoke test.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.kernel.locations import Location, add_location
from app.kernel.users import User
from app.meta.identity import update_user

DEMO_PASSWORD = "lianku-demo"

#: (username, full name, role) — one demo user per shipped role.
DEMO_USERS = [
    ("admin", "系统管理员 Admin", "admin"),
    ("hq", "总部经理 王敏", "hq_manager"),
    ("finance", "财务 李娟", "finance"),
    ("qa", "质管 陈静", "qa"),
    ("store_manager", "店长 张伟", "store_manager"),
    ("store_clerk", "店员 刘洋", "store_clerk"),
    ("wh_supervisor", "仓库主管 赵强", "warehouse_supervisor"),
    ("wh_clerk", "保管员 孙丽", "warehouse_clerk"),
    ("auditor", "审计 周平", "auditor"),
    ("integrator", "接口 API", "integrator"),
    ("store_clerk_bj", "店员 马超", "store_clerk"),
]

#: Where each demo user works; users not listed get HQ (their role's scope is "all").
#: The second store clerk sits at BJ01, so the demo shows one store not seeing another's records.
DEMO_USER_LOCATIONS = {
    "store_manager": "SH01",
    "store_clerk": "SH01",
    "wh_supervisor": "WH-SH",
    "wh_clerk": "WH-SH",
    "store_clerk_bj": "BJ01",
}


#: The demo organisation: (code, name, type, parent code, address, latitude, longitude).
DEMO_LOCATIONS = [
    ("HQ", "联库医疗总部", "hq", None, "上海市浦东新区张江路 88 号", "31.204000", "121.599000"),
    ("R-EAST", "华东区", "region", "HQ", None, None, None),
    ("R-NORTH", "华北区", "region", "HQ", None, None, None),
    (
        "WH-SH",
        "上海中心仓",
        "warehouse",
        "R-EAST",
        "上海市嘉定区安亭镇墨玉路 185 号",
        "31.296000",
        "121.161000",
    ),
    (
        "SH01",
        "上海徐汇店",
        "store",
        "R-EAST",
        "上海市徐汇区漕溪北路 398 号",
        "31.188000",
        "121.436000",
    ),
    (
        "HZ01",
        "杭州西湖店",
        "store",
        "R-EAST",
        "杭州市西湖区文三路 259 号",
        "30.278000",
        "120.131000",
    ),
    (
        "WH-BJ",
        "北京中心仓",
        "warehouse",
        "R-NORTH",
        "北京市大兴区亦庄经济开发区科创街 12 号",
        "39.795000",
        "116.506000",
    ),
    (
        "BJ01",
        "北京朝阳店",
        "store",
        "R-NORTH",
        "北京市朝阳区建国路 93 号",
        "39.908000",
        "116.473000",
    ),
    (
        "TJ01",
        "天津和平店",
        "store",
        "R-NORTH",
        "天津市和平区南京路 189 号",
        "39.117000",
        "117.199000",
    ),
]


def load_locations(session: Session) -> dict[str, Location]:
    """Create the demo organisation tree; returns the locations by code."""
    created: dict[str, Location] = {}
    for code, name, kind, parent, address, latitude, longitude in DEMO_LOCATIONS:
        created[code] = add_location(
            session, code, name, kind, created.get(parent) if parent else None,
            address=address,
            latitude=Decimal(latitude) if latitude else None,
            longitude=Decimal(longitude) if longitude else None,
        )  # fmt: skip
    return created


def is_empty(session: Session) -> bool:
    return session.scalar(select(func.count()).select_from(User)) == 0


def load(session: Session) -> None:
    locations = load_locations(session)
    load_users(session, locations)


def load_users(session: Session, locations: dict[str, Location] | None = None) -> None:
    """Create one user per role, each with its role and its locations (audited as in real use)."""
    if locations is None:
        locations = {loc.code: loc for loc in session.scalars(select(Location))}
    for username, full_name, role in DEMO_USERS:
        user = User(username=username, full_name=full_name, locale="zh_CN", active=True)
        user.set_password(DEMO_PASSWORD)
        session.add(user)
        session.flush()
        location = locations.get(DEMO_USER_LOCATIONS.get(username, "HQ"))
        update_user(session, user, roles=[role], location_ids=[location.id] if location else [])


def print_logins(echo: Callable[[str], None]) -> None:
    echo(f"demo logins (password for all: {DEMO_PASSWORD}):")
    for username, full_name, role in DEMO_USERS:
        where = DEMO_USER_LOCATIONS.get(username, "HQ")
        echo(f"  {username:<15} {role:<22} {where:<6} {full_name}")
