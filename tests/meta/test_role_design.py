"""The roles designer's changes to roles.yaml: a grid saved unchanged leaves the text as it was
(patterns, comments, wrapped lines); a change rewrites only the entries whose grants changed; a
form made its own starts from the default row; bad names and scopes are refused on their input."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.meta import role_design
from app.meta.access import role_allows
from app.meta.role_design import DesignRefused, FormInfo
from app.meta.yaml_edit import safe_load

ROLES = (Path(__file__).resolve().parents[2] / "metadata" / "roles.yaml").read_text("utf-8")
FORMS = {
    "item_master": FormInfo("商品档案"),
    "recall": FormInfo("召回", (("issue", "发布"), ("close", "关闭"))),
    "scrap": FormInfo("报损", (("submit", "提交"), ("approve", "批准"), ("reject", "驳回"))),
    "stocktake": FormInfo("盘点", (("approve", "批准"),)),
}
REPORTS = {"near_expiry": "近效期", "stock_on_hand": "库存", "stock_value": "库存金额"}


def ticks(view: role_design.RoleView) -> dict[str, str]:
    """The inputs the designer sends for ``view`` when nothing was changed."""
    values = {"label_zh": view.label_zh, "label_en": view.label_en, "scope": view.scope}
    values |= {f"flag:{flag}": "1" for flag, on in view.flags.items() if on}
    for row in view.rows:
        if row.form != "*" and row.own:
            values[f"own:{row.form}"] = "1"
        if not row.own:
            continue  # its boxes are disabled: not sent
        values |= {f"right:{row.form}:{a}": "1" for a, on in row.actions.items() if on}
        if row.all_transitions:  # the boxes of each transition are not drawn then
            values[f"right:{row.form}:transition:*"] = "1"
        else:
            fired = [name for name, _, on in row.transitions if on]
            values |= {f"right:{row.form}:transition:{name}": "1" for name in fired}
    if view.all_reports:
        values["all_reports"] = "1"
    else:
        values |= {f"report:{name}": "1" for name, _, on in view.reports if on}
    return values


def roles_of(text: str) -> dict:
    return safe_load(text)["roles"]


@pytest.mark.parametrize("role", [name for name, _ in role_design.role_names(ROLES)])
def test_every_shipped_role_saved_unchanged_leaves_the_text_as_it_was(role):
    view = role_design.view(ROLES, role, FORMS, REPORTS)
    assert role_design.update_role(ROLES, role, ticks(view), FORMS, REPORTS) == ROLES


def test_the_grid_shows_what_the_patterns_grant():
    clerk = role_design.view(ROLES, "store_clerk", FORMS, REPORTS)
    rows = {row.form: row for row in clerk.rows}
    assert rows["*"].actions == {"read": True, "create": True, "update": True, "delete": False,
                                 "export": False}  # fmt: skip
    assert rows["recall"].own and not any(rows["recall"].actions.values())  # recall: []
    assert not rows["scrap"].own and rows["scrap"].actions["create"]  # follows the default
    assert [granted for _, _, granted in clerk.reports] == [True, True, True]
    hq = role_design.view(ROLES, "hq_manager", FORMS, REPORTS)
    assert {row.form: row.all_transitions for row in hq.rows}["scrap"]  # "transition:*"
    assert hq.all_reports and hq.scope == "all"


def test_a_changed_row_is_written_as_ticked_and_grants_exactly_that():
    clerk = role_design.view(ROLES, "store_clerk", FORMS, REPORTS)
    values = ticks(clerk)
    del values["right:*:create"], values["own:recall"], values["report:stock_value"]
    values |= {"own:scrap": "1"}
    after = role_design.update_role(ROLES, "store_clerk", values, FORMS, REPORTS)
    role = roles_of(after)["store_clerk"]
    assert role["forms"]["*"] == ["read", "update"]
    assert "recall" not in role["forms"]  # follows the default row again
    assert role["forms"]["scrap"] == ["read", "create", "update"]  # copied from the default
    assert not role_allows(role, "report:stock_value", None)
    assert role_allows(role, "report:near_expiry", None)
    others = {name: role for name, role in roles_of(ROLES).items() if name != "store_clerk"}
    assert {name: role for name, role in roles_of(after).items() if name != "store_clerk"} == others
    assert "# master cards (首营) are kept by HQ and approved by QA" in after
    assert all(line == line.rstrip() for line in after.splitlines())


def test_transitions_one_by_one_or_all():
    manager = role_design.view(ROLES, "store_manager", FORMS, REPORTS)
    values = ticks(manager) | {"own:scrap": "1"}
    own = role_design.update_role(ROLES, "store_manager", values, FORMS, REPORTS)
    values = ticks(role_design.view(own, "store_manager", FORMS, REPORTS))
    del values["right:scrap:transition:*"]
    values |= {"right:scrap:transition:submit": "1"}
    after = role_design.update_role(own, "store_manager", values, FORMS, REPORTS)
    role = roles_of(after)["store_manager"]
    assert role_allows(role, "transition:submit", "scrap")
    assert not role_allows(role, "transition:approve", "scrap")
    assert role_allows(role, "transition:approve", "stocktake")  # the default row's "*"


def test_label_scope_and_flags():
    auditor = role_design.view(ROLES, "auditor", FORMS, REPORTS)
    values = ticks(auditor) | {"label_zh": "内审", "scope": "region"}
    del values["flag:audit"]
    role = roles_of(role_design.update_role(ROLES, "auditor", values, FORMS, REPORTS))["auditor"]
    assert (role["label"], role["scope"], "audit" in role, role["read_only"]) == (
        {"zh_CN": "内审", "en": "Auditor"}, "region", False, True
    )  # fmt: skip
    with pytest.raises(DesignRefused) as refused:
        role_design.update_role(ROLES, "auditor", values | {"scope": "mine"}, FORMS, REPORTS)
    assert refused.value.field == "scope"
    # a role made to manage its holders' locations: their manager's approvals come to them
    assert role_design.view(ROLES, "region_manager", FORMS, REPORTS).flags["manages"] is True
    managing = ticks(auditor) | {"flag:manages": "1"}
    after = roles_of(role_design.update_role(ROLES, "auditor", managing, FORMS, REPORTS))
    assert after["auditor"]["manages"] is True
    # finance closes months (结账): a flag like the others
    assert role_design.view(ROLES, "finance", FORMS, REPORTS).flags["close_periods"] is True
    closing = ticks(auditor) | {"flag:close_periods": "1"}
    after = roles_of(role_design.update_role(ROLES, "auditor", closing, FORMS, REPORTS))
    assert after["auditor"]["close_periods"] is True


def test_roles_are_added_and_removed():
    added = role_design.add_role(ROLES, {"name": "trainee", "label_zh": "实习生", "scope": "own"})
    assert roles_of(added)["trainee"] == {
        "label": {"zh_CN": "实习生", "en": "实习生"}, "scope": "own", "forms": {"*": ["read"]},
        "reports": [],
    }  # fmt: skip
    assert added.startswith(ROLES)  # appended: nothing above it changed
    assert role_design.remove_role(added, "trainee") == ROLES
    for values, field in (({"name": "Trainee"}, "name"), ({"name": "auditor"}, "name"),
                          ({"name": "x", "scope": "mine"}, "scope")):  # fmt: skip
        with pytest.raises(DesignRefused) as refused:
            role_design.add_role(ROLES, values)
        assert refused.value.field == field
    with pytest.raises(DesignRefused, match="no role called ghost"):
        role_design.remove_role(ROLES, "ghost")


def test_the_grid_shows_the_role_asked_for_or_the_first():
    names, shown = role_design.grid(ROLES, "qa", FORMS, REPORTS)
    assert names == role_design.role_names(ROLES) and shown.name == "qa"
    assert role_design.grid(ROLES, "removed_just_now", FORMS, REPORTS)[1].name == names[0][0]
