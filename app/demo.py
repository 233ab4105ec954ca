"""The demo chain: what ``lianku demo`` and ``make run`` load into an empty database.

Demo data goes through the same code paths as real use, so it doubles as a smoke test.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.kernel.users import User

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
]


def is_empty(session: Session) -> bool:
    return session.scalar(select(func.count()).select_from(User)) == 0


def load(session: Session) -> None:
    for username, full_name, _role in DEMO_USERS:
        user = User(username=username, full_name=full_name, locale="zh_CN", active=True)
        user.set_password(DEMO_PASSWORD)
        session.add(user)
    session.flush()


def print_logins(echo: Callable[[str], None]) -> None:
    echo(f"demo logins (password for all: {DEMO_PASSWORD}):")
    for username, full_name, role in DEMO_USERS:
        echo(f"  {username:<15} {role:<22} {full_name}")
