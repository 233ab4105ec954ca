"""A small chain for identity tests: the demo organisation tree and a few users with roles.

Store A is SH01 (region R-EAST), store B is BJ01 (region R-NORTH). ``MARKERS_B`` are strings that
only store-B objects carry: a page or answer containing one of them leaked store-B data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.demo import load_locations
from app.kernel.locations import Location
from app.kernel.tokens import ApiToken
from app.meta import identity

PASSWORD = "correct horse battery"

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


__all__ = ["MARKERS_B", "PASSWORD", "USERS", "ApiToken", "Chain", "issue", "make_chain"]
