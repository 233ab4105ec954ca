"""A small chain for identity tests: an organisation tree and a few users with roles.

Store A is SH01 (region R-EAST), store B is BJ01 (region R-NORTH). ``MARKERS_B`` are strings that
only store-B objects carry: a page or answer containing one of them leaked store-B data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy.orm import Session

from app.kernel.locations import Location, add_location
from app.kernel.tokens import ApiToken
from app.meta import identity

PASSWORD = "correct horse battery"

#: The identity tests' organisation: (code, name, type, parent, address, latitude, longitude).
LOCATIONS = [
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
    """Create the organisation tree; returns the locations by code."""
    created: dict[str, Location] = {}
    for code, name, kind, parent, address, latitude, longitude in LOCATIONS:
        created[code] = add_location(
            session, code, name, kind, created.get(parent) if parent else None,
            address=address,
            latitude=Decimal(latitude) if latitude else None,
            longitude=Decimal(longitude) if longitude else None,
        )  # fmt: skip
    return created


#: username → (full name, role, location code)
USERS = {
    "admin": ("管理员 Admin", "admin", "HQ"),
    "auditor": ("审计 Auditor", "auditor", "HQ"),
    "clerk_a": ("店员 Alice", "store_clerk", "SH01"),
    "clerk_b": ("店员 Bob-北京", "store_clerk", "BJ01"),
    "manager_a": ("店长 Ann", "store_manager", "SH01"),
    "integrator": ("接口 Integrator", "integrator", "HQ"),
}

#: Strings that only store B's objects carry (its location, its clerk, its token).
MARKERS_B = ("BJ01", "北京朝阳店", "clerk_b", "Bob-北京", "erp-beijing")


@dataclass
class Chain:
    locations: dict[str, Location]
    users: dict[str, int]
    tokens: dict[str, tuple[int, str]] = field(default_factory=dict)
    db: object = None

    def loc(self, code: str) -> int:
        return self.locations[code].id


def make_chain(db, usernames=tuple(USERS), token_b: bool = True) -> Chain:
    with db.transaction() as session:
        locations = load_locations(session)
        users = {}
        for username in usernames:
            full_name, role, code = USERS[username]
            user = identity.create_user(
                session, username, full_name, PASSWORD,
                roles=[role], location_ids=[locations[code].id],
            )  # fmt: skip
            users[username] = user.id
        chain = Chain(locations=locations, users=users, db=db)
        if token_b:
            token, plaintext = identity.issue_token(
                session, "erp-beijing", "store_clerk", [locations["BJ01"].id], None
            )
            chain.tokens["b"] = (token.id, plaintext)
    return chain


def issue(db, name: str, role: str, codes: list[str]) -> tuple[int, str]:
    with db.transaction() as session:
        from sqlalchemy import select

        ids = list(session.scalars(select(Location.id).where(Location.code.in_(codes))))
        token, plaintext = identity.issue_token(session, name, role, ids, None)
        return token.id, plaintext


__all__ = [
    "MARKERS_B", "PASSWORD", "USERS", "ApiToken", "Chain", "issue", "load_locations", "make_chain",
]  # fmt: skip
