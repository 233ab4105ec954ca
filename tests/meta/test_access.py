"""The one enforcement point: role permissions and own/region/all data scope, at access level."""

import pytest
from sqlalchemy import select

from app.kernel.locations import Location, LocationType, add_location
from app.kernel.tokens import ApiToken
from app.kernel.users import User
from app.meta import access
from tests.chain import make_chain


class Principal:
    """A stand-in principal: what ``access`` reads of a user or token."""

    is_authenticated = True
    is_api_token = False

    def __init__(self, *roles, location_ids=()):
        self.role_names = list(roles)
        self.location_ids = list(location_ids)


class Anonymous:
    is_authenticated = False


@pytest.mark.parametrize(
    ("role", "action", "form", "allowed"),
    [
        ("store_clerk", "read", "purchase_receipt", True),
        ("store_clerk", "create", "purchase_receipt", True),
        ("store_clerk", "delete", "purchase_receipt", False),
        ("store_clerk", "export", "purchase_receipt", False),
        ("store_clerk", "transition:approve", "purchase_receipt", False),
        ("store_manager", "transition:approve", "purchase_receipt", True),
        ("store_manager", "export", None, True),
        ("store_manager", "report:stock_on_hand", None, True),
        ("store_clerk", "report:stock_on_hand", None, True),
        ("store_clerk", "report:stock_value_by_region", None, False),
        ("admin", "delete", "supplier", True),
        ("admin", "admin", None, True),
        ("admin", "audit", None, True),
        ("hq_manager", "admin", None, False),
        ("auditor", "audit", None, True),
        ("auditor", "read", "supplier", True),
        ("auditor", "export", "supplier", True),
        ("auditor", "update", "supplier", False),
        ("qa", "audit", None, False),
        ("finance", "create", "supplier", False),
        ("integrator", "create", "supplier", True),
    ],
)
def test_role_permissions(role, action, form, allowed):
    assert access.can(Principal(role), action, form) is allowed


def test_read_only_role_never_writes_even_with_a_wildcard(monkeypatch):
    roles = {
        "looker": {"label": {}, "scope": "all", "read_only": True, "forms": {"*": ["*"]},
                   "admin": True},
    }  # fmt: skip
    monkeypatch.setattr(access, "roles_provider", lambda: roles)
    looker = Principal("looker")
    assert access.can(looker, "read", "supplier")
    assert access.can(looker, "export", "supplier")
    for action in ("create", "update", "delete", "transition:approve", "admin"):
        assert not access.can(looker, action, "supplier"), action


def test_a_forms_own_entry_replaces_the_wildcard(monkeypatch):
    roles = {
        "buyer": {"label": {}, "scope": "own",
                  "forms": {"*": ["read", "create"], "supplier": ["read"]}},
    }  # fmt: skip
    monkeypatch.setattr(access, "roles_provider", lambda: roles)
    buyer = Principal("buyer")
    assert access.can(buyer, "create", "purchase_order")
    assert not access.can(buyer, "create", "supplier")
    assert access.can(buyer, "read", "supplier")


def test_nobody_signed_in_may_do_nothing():
    assert not access.can(Anonymous(), "read", "supplier")
    with pytest.raises(access.PermissionDenied):
        access.require(Anonymous(), "read", "supplier")
    assert not access.can(Principal(), "read", "supplier")  # no role at all
    assert not access.can(Principal("no_such_role"), "read", "supplier")


def test_api_only_roles_cannot_use_pages():
    assert not access.may_use_pages(Principal("integrator"))
    assert access.may_use_pages(Principal("integrator", "store_clerk"))
    assert access.may_use_pages(Principal("store_clerk"))
    assert not access.may_use_pages(Anonymous())


def test_unknown_roles_are_refused_on_assignment():
    assert access.validate_roles(["store_clerk", "qa", "qa"]) == ["qa", "store_clerk"]
    with pytest.raises(access.UnknownRole, match="store_clerck"):
        access.validate_roles(["store_clerck"])


# --- data scope ---------------------------------------------------------------------------------


@pytest.fixture
def tree(db):
    return make_chain(db, usernames=(), token_b=False)


def _codes(session, ids):
    if ids is None:
        return None
    return sorted(session.scalars(select(Location.code).where(Location.id.in_(ids))))


def test_own_scope_is_the_assigned_locations_and_below(db, tree):
    with db.session() as session:
        clerk = Principal("store_clerk", location_ids=[tree.loc("SH01")])
        assert _codes(session, access.visible_location_ids(session, clerk)) == ["SH01"]
        east = Principal("store_manager", location_ids=[tree.loc("R-EAST")])
        assert _codes(session, access.visible_location_ids(session, east)) == [
            "HZ01", "R-EAST", "SH01", "WH-SH",
        ]  # fmt: skip
        two = Principal("store_clerk", location_ids=[tree.loc("SH01"), tree.loc("BJ01")])
        assert _codes(session, access.visible_location_ids(session, two)) == ["BJ01", "SH01"]


def test_a_location_added_in_the_session_is_in_scope_at_once(db, tree):
    # the scope is kept for the session's lifetime; adding a store under a region must not
    # leave the region's manager blind to it until the next request
    with db.session() as session:
        east = Principal("store_manager", location_ids=[tree.loc("R-EAST")])
        assert "NB01" not in _codes(session, access.visible_location_ids(session, east))
        region = session.get(Location, tree.loc("R-EAST"))
        add_location(session, "NB01", "宁波店", LocationType.store, parent=region)
        assert "NB01" in _codes(session, access.visible_location_ids(session, east))


def test_region_scope_is_every_location_of_the_assigned_regions(db, tree, monkeypatch):
    roles = {"area": {"label": {}, "scope": "region", "forms": {"*": ["read"]}}}
    monkeypatch.setattr(access, "roles_provider", lambda: roles)
    with db.session() as session:
        area = Principal("area", location_ids=[tree.loc("SH01")])
        assert _codes(session, access.visible_location_ids(session, area)) == [
            "HZ01", "R-EAST", "SH01", "WH-SH",
        ]  # fmt: skip
        both = Principal("area", location_ids=[tree.loc("SH01"), tree.loc("TJ01")])
        assert len(access.visible_location_ids(session, both)) == 8  # both regions, not HQ
        assert tree.loc("HQ") not in access.visible_location_ids(session, both)


def test_all_scope_is_unrestricted_and_no_role_sees_nothing(db, tree):
    with db.session() as session:
        assert access.visible_location_ids(session, Principal("finance")) is None
        assert access.visible_location_ids(session, Principal()) == frozenset()
        nowhere = Principal("store_clerk")  # a clerk without an assigned location
        assert access.visible_location_ids(session, nowhere) == frozenset()


def test_scope_filter_and_require_location(db, tree):
    clerk = Principal("store_clerk", location_ids=[tree.loc("SH01")])
    with db.session() as session:
        query = select(Location.code).where(access.scope_filter(session, clerk, Location.id))
        assert list(session.scalars(query)) == ["SH01"]
        nobody = Principal()
        assert list(session.scalars(select(Location).where(
            access.scope_filter(session, nobody, Location.id)
        ))) == []  # fmt: skip
        everyone = select(Location).where(
            access.scope_filter(session, Principal("qa"), Location.id)
        )
        assert len(list(session.scalars(everyone))) == 9
        access.require_location(session, clerk, tree.loc("SH01"))
        with pytest.raises(access.NotFoundInScope):
            access.require_location(session, clerk, tree.loc("BJ01"))
        with pytest.raises(access.NotFoundInScope):
            access.require_location(session, clerk, None)


def test_location_lookup_offers_only_what_is_in_scope(db, tree):
    clerk = Principal("store_clerk", location_ids=[tree.loc("SH01")])
    with db.session() as session:
        assert [loc.code for loc in access.lookup_locations(session, clerk, "")] == ["SH01"]
        assert access.lookup_locations(session, clerk, "北京") == []
        assert access.lookup_locations(session, clerk, "%") == []
        hq = Principal("hq_manager", location_ids=[tree.loc("HQ")])
        assert [loc.code for loc in access.lookup_locations(session, hq, "北京")] == [
            "BJ01", "WH-BJ",
        ]  # fmt: skip


def test_a_real_user_and_a_token_are_principals(db):
    chain = make_chain(db, usernames=("clerk_a",))
    with db.session() as session:
        user = session.get(User, chain.users["clerk_a"])
        assert user.role_names == ["store_clerk"]
        assert _codes(session, access.visible_location_ids(session, user)) == ["SH01"]
        token = session.get(ApiToken, chain.tokens["b"][0])
        assert access.can(token, "create", "purchase_receipt")
        assert _codes(session, access.visible_location_ids(session, token)) == ["BJ01"]
        assert not access.may_use_pages(token)


def test_demo_users_have_roles_and_locations_that_show_scope(db):
    from app import demo
    from tests.conftest import PROJECT_ROOT

    demo.load(
        db.transaction, PROJECT_ROOT / "metadata", PROJECT_ROOT / "workflows",
        demo.Options(stores=2, warehouses=1, items=5, days=1),
    )  # fmt: skip
    with db.session() as session:
        by_name = {user.username: user for user in session.scalars(select(User))}
        for role, username, _location in demo.logins(session):
            assert by_name[username].role_names == [role]
        assert _codes(session, access.visible_location_ids(session, by_name["sh01_clerk"])) == [
            "SH01"
        ]
        assert _codes(session, access.visible_location_ids(session, by_name["bj01_clerk"])) == [
            "BJ01"
        ]
        assert _codes(session, access.visible_location_ids(session, by_name["wh_sh_clerk"])) == [
            "WH-SH"
        ]
        assert access.visible_location_ids(session, by_name["hq"]) is None
        assert not access.may_use_pages(by_name["integrator"])
