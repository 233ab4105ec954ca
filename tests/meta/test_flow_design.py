"""The flow designer's changes at the kernel of it: every state, transition and approval level of
every shipped workflow saved unchanged leaves the text as it was (role lists keep their order,
anchors and flow style); segregation of duties is switched per transition and per level."""

from __future__ import annotations

from pathlib import Path

import pytest
from werkzeug.datastructures import MultiDict

from app.meta import flow_design
from app.meta.yaml_edit import DesignRefused, safe_load

WORKFLOWS = Path(__file__).resolve().parents[2] / "workflows"
SCRAP = (WORKFLOWS / "scrap.yaml").read_text(encoding="utf-8")
ROLES = ["admin", "hq_manager", "store_clerk", "store_manager", "warehouse_clerk",
         "warehouse_supervisor", "qa", "finance", "planner", "auditor", "integrator"]  # fmt: skip


def transition_inputs(t: flow_design.TransitionView) -> MultiDict:
    values = MultiDict({"label_zh": t.label_zh, "label_en": t.label_en, "to": t.to,
                        "condition": t.condition, "condition_zh": t.condition_zh,
                        "condition_en": t.condition_en, "comment": t.comment})  # fmt: skip
    for state in t.sources:
        values.add("from", state)
    for role in t.roles:
        values.add("roles", role)
    for switch in ("signature", "allow_creator", "skip_submit_rules"):
        if getattr(t, switch):
            values[switch] = "1"
    if t.levels is not None:
        values |= {"approval": "1", "pending": t.pending, "reject_to": t.reject_to,
                   "cc_users": t.cc.users, "cc_expr": t.cc.expr}  # fmt: skip
        for role in t.cc.roles:
            values.add("cc_roles", role)
        values["cc_manager"] = t.cc.manager
        if t.withdraw:
            values["withdraw"] = "1"
    return values


def level_inputs(level: flow_design.LevelView) -> MultiDict:
    values = MultiDict({"label_zh": level.label_zh, "label_en": level.label_en,
                        "users": level.users, "mode": level.mode, "when": level.when,
                        "reject_to": level.reject_to, "expr": level.expr,
                        "time_limit_hours": level.time_limit_hours})  # fmt: skip
    for role in level.roles:
        values.add("roles", role)
    values["manager"] = level.manager
    for switch in ("signature", "allow_creator"):
        if getattr(level, switch):
            values[switch] = "1"
    return values


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yaml")), ids=lambda path: path.stem)
def test_every_part_of_every_shipped_flow_saved_unchanged_is_unchanged(path):
    text = path.read_text(encoding="utf-8")
    flow = flow_design.view(text)
    settings = {"label_zh": flow.label_zh, "label_en": flow.label_en, "initial": flow.initial}
    assert flow_design.update_flow(text, settings) == text
    for state in flow.states:
        switches = {name: "1" for name in ("editable", "final") if getattr(state, name)}
        values = {"label_zh": state.label_zh, "label_en": state.label_en} | switches
        assert flow_design.update_state(text, state.name, values) == text, state.name
    for transition in flow.transitions:
        values = transition_inputs(transition)
        assert flow_design.update_transition(text, transition.path, values, ROLES) == text
        for level in transition.levels or []:
            assert flow_design.update_level(text, level.path, level_inputs(level), ROLES) == text


def test_segregation_of_duties_is_switched_per_transition_and_level():
    flow = flow_design.view(SCRAP)
    cancel = transition_inputs(flow.transitions[1])
    cancel["allow_creator"] = "1"
    after = safe_load(flow_design.update_transition(SCRAP, "1", cancel, ROLES))
    assert after["transitions"][1]["allow_creator"] is True
    qa = level_inputs(flow.transitions[0].levels[1])
    qa["allow_creator"] = "1"
    after = safe_load(flow_design.update_level(SCRAP, "0.1", qa, ROLES))
    assert after["transitions"][0]["approval"]["levels"][1]["allow_creator"] is True


def rule_rows(*rows) -> MultiDict:
    values = MultiDict()
    for expr, name, zh, en in rows:
        values.add("rule_expr", expr)
        values.add("rule_field", name)
        values.add("rule_zh", zh)
        values.add("rule_en", en)
    return values


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yaml")), ids=lambda path: path.stem)
def test_every_shipped_entry_rule_saved_unchanged_is_unchanged(path):
    text = path.read_text(encoding="utf-8")
    for state in flow_design.view(text).states:
        values = MultiDict({"label_zh": state.label_zh, "label_en": state.label_en})
        values |= {name: "1" for name in ("editable", "final") if getattr(state, name)}
        values.update(rule_rows(*state.rules, ("", "", "", "")))
        assert flow_design.update_state(text, state.name, values) == text, state.name


def test_entry_rules_are_added_changed_and_removed():
    approval = flow_design.view(SCRAP).states[1]
    values = MultiDict({"label_zh": approval.label_zh, "label_en": approval.label_en})
    values.update(rule_rows(("total < 100000", "", "金额过大，请拆分", ""), ("", "", "", "")))
    after = flow_design.update_state(SCRAP, "in_approval", values)
    state = safe_load(after)["states"]["in_approval"]
    message = {"zh_CN": "金额过大，请拆分", "en": "金额过大，请拆分"}
    assert state["submit_rules"] == [{"expr": "total < 100000", "message": message}]
    assert "  in_approval:\n    label: {zh_CN: 审批中, en: In approval}\n" in after  # opened up
    draft = flow_design.view(SCRAP).states[0]
    assert draft.rules == [
        ("count(lines) > 0", "lines", "请至少添加一行明细", "Add at least one line")
    ]
    cleared = MultiDict({"label_zh": draft.label_zh, "label_en": draft.label_en, "editable": "1"})
    cleared.update(rule_rows(("", "lines", "请至少添加一行明细", ""), ("", "", "", "")))
    assert "submit_rules" not in safe_load(flow_design.update_state(SCRAP, "draft", cleared))[
        "states"
    ]["draft"]  # fmt: skip
    silent = MultiDict({"label_zh": "x", "label_en": "x"})
    silent.update(rule_rows(("total > 0", "", "", "")))
    with pytest.raises(flow_design.DesignRefused) as refused:
        flow_design.update_state(SCRAP, "in_approval", silent)
    assert refused.value.field == "submit_rules"


def rights_inputs(state: flow_design.StateView, **lists) -> MultiDict:
    values = MultiDict()
    chosen = {"editable_fields": state.editable_fields, "visible_fields": state.visible_fields,
              "roles": state.rights_roles} | lists  # fmt: skip
    for name, ticked in chosen.items():
        for value in ticked or []:
            values.add(name, value)
    if chosen["visible_fields"] is not None:
        values["limit_visible"] = "1"
    return values


RECEIPT_FIELDS = ["supplier", "location", "order", "lines", "inspector", "inspected_at",
                  "inspection_note", "amount"]  # fmt: skip


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yaml")), ids=lambda path: path.stem)
def test_every_shipped_states_field_rights_saved_unchanged_are_unchanged(path):
    text = path.read_text(encoding="utf-8")
    for state in flow_design.view(text).states:
        fields = [*state.editable_fields, *(state.visible_fields or [])] + RECEIPT_FIELDS
        values = rights_inputs(state)
        assert flow_design.update_state_rights(text, state.name, values, fields, ROLES) == text


def test_field_rights_are_ticked_per_state():
    text = (WORKFLOWS / "purchase_receipt.yaml").read_text(encoding="utf-8")
    state = {s.name: s for s in flow_design.view(text).states}["awaiting_inspection"]
    assert state.editable_fields == ["lines", "inspector", "inspected_at", "inspection_note"]
    assert state.rights_roles == ["qa", "warehouse_supervisor", "store_manager"]
    fewer = rights_inputs(state, editable_fields=["lines", "inspector", "inspected_at"],
                          roles=["qa"])  # fmt: skip
    changed = flow_design.update_state_rights(text, state.name, fewer, RECEIPT_FIELDS, ROLES)
    assert "      editable: [lines, inspector, inspected_at]\n      roles: [qa]\n" in changed
    # showing only some fields starts from all of them shown; unticking every one is refused
    limited = rights_inputs(state) | {"limit_visible": "1"}
    shown = flow_design.update_state_rights(text, state.name, limited, RECEIPT_FIELDS, ROLES)
    rights = safe_load(shown)["states"]["awaiting_inspection"]["fields"]
    assert rights["visible"] == RECEIPT_FIELDS
    state = {s.name: s for s in flow_design.view(shown).states}["awaiting_inspection"]
    with pytest.raises(DesignRefused) as refused:
        flow_design.update_state_rights(shown, state.name, rights_inputs(state, visible_fields=[]),
                                        RECEIPT_FIELDS, ROLES)  # fmt: skip
    assert refused.value.field == "visible_fields"
    # rights set on a state that had none, and all taken back again
    done = {s.name: s for s in flow_design.view(text).states}["draft"]
    given = flow_design.update_state_rights(
        text, "draft", rights_inputs(done, roles=["qa"]), RECEIPT_FIELDS, ROLES
    )
    assert safe_load(given)["states"]["draft"]["fields"] == {"roles": ["qa"]}
    draft = {s.name: s for s in flow_design.view(given).states}["draft"]
    taken = rights_inputs(draft, roles=[])
    assert flow_design.update_state_rights(given, "draft", taken, RECEIPT_FIELDS, ROLES) == text


def test_a_transitions_refusal_message_and_entry_rules_switch():
    text = (WORKFLOWS / "sales_order.yaml").read_text(encoding="utf-8")
    reallocate = next(t for t in flow_design.view(text).transitions if t.name == "reallocate")
    assert reallocate.condition_en.startswith("every line is allocated")
    assert reallocate.skip_submit_rules
    values = transition_inputs(reallocate)
    values["condition_zh"] = "没有需要重新分配的数量。"
    del values["skip_submit_rules"]
    at = int(reallocate.path)
    changed = flow_design.update_transition(text, reallocate.path, values, ROLES)
    after = safe_load(changed)["transitions"][at]
    assert after["condition_message"]["zh_CN"] == "没有需要重新分配的数量。"
    assert "skip_submit_rules" not in after
    values["condition_zh"] = values["condition_en"] = ""
    emptied = flow_design.update_transition(text, reallocate.path, values, ROLES)
    assert "condition_message" not in safe_load(emptied)["transitions"][at]


def test_an_approval_copies_people_and_a_level_sends_a_rejection_back_to_its_own_place():
    flow = flow_design.view(SCRAP)
    submit = transition_inputs(flow.transitions[0])
    submit.add("cc_roles", "finance")
    submit["cc_manager"] = "location"
    copied = flow_design.update_transition(SCRAP, "0", submit, ROLES)
    assert "      cc: {roles: [finance], manager: true}\n" in copied
    submit["cc_expr"] = "[created_by]"  # and whoever the record names
    named = flow_design.update_transition(SCRAP, "0", submit, ROLES)
    assert "      cc: {roles: [finance], manager: true, expr: '[created_by]'}\n" in named
    assert flow_design.view(named).transitions[0].cc.expr == "[created_by]"
    approval = safe_load(copied)["transitions"][0]["approval"]
    assert list(approval)[:3] == ["pending", "reject_to", "cc"]
    qa = level_inputs(flow.transitions[0].levels[1])
    qa["reject_to"] = "manager"  # an earlier level
    back = safe_load(flow_design.update_level(SCRAP, "0.1", qa, ROLES))
    assert back["transitions"][0]["approval"]["levels"][1]["reject_to"] == "manager"
    manager = level_inputs(flow.transitions[0].levels[0])
    manager["reject_to"] = "qa"  # a later level is no place to send it back to
    assert flow_design.update_level(SCRAP, "0.0", manager, ROLES) == SCRAP


def test_a_level_approved_by_whoever_the_record_names():
    flow = flow_design.view(SCRAP)
    qa = level_inputs(flow.transitions[0].levels[1])
    qa["expr"] = "witness_user"
    named = flow_design.update_level(SCRAP, "0.1", qa, ROLES)
    assert "approvers: {roles: [qa], expr: witness_user}" in named
    assert flow_design.view(named).transitions[0].levels[1].expr == "witness_user"
    del qa["roles"]
    qa["expr"] = ""
    with pytest.raises(DesignRefused, match="Say who approves"):
        flow_design.update_level(named, "0.1", qa, ROLES)


def test_a_level_approved_by_the_manager_of_the_records_region():
    """The designer offers the location's manager or its region's (区域经理): the choice is
    written as ``manager: true`` / ``manager: region`` and read back; none drops the key."""
    flow = flow_design.view(SCRAP)
    manager = level_inputs(flow.transitions[0].levels[0])
    assert manager["manager"] == "location"
    manager["manager"] = "region"
    regional = flow_design.update_level(SCRAP, "0.0", manager, ROLES)
    assert "approvers: {manager: region}" in regional
    assert flow_design.view(regional).transitions[0].levels[0].manager == "region"
    manager["manager"] = "location"
    assert flow_design.update_level(regional, "0.0", manager, ROLES) == SCRAP
    manager["manager"], manager["roles"] = "", "qa"
    assert "approvers: {roles: [qa]}" in flow_design.update_level(SCRAP, "0.0", manager, ROLES)


def test_withdrawing_a_submission_is_switched_off_and_on():
    flow = flow_design.view(SCRAP)
    submit = transition_inputs(flow.transitions[0])
    assert flow.transitions[0].withdraw and submit["withdraw"] == "1"
    del submit["withdraw"]
    kept = flow_design.update_transition(SCRAP, "0", submit, ROLES)
    assert safe_load(kept)["transitions"][0]["approval"]["withdraw"] is False
    assert not flow_design.view(kept).transitions[0].withdraw
    submit["withdraw"] = "1"
    assert flow_design.update_transition(kept, "0", submit, ROLES) == SCRAP


def test_ticking_needs_approval_starts_an_approval_ready_to_use():
    """The waiting state's chooser shows only once approval is on: ticking the box alone must
    work. The sales flow has no ``in_approval`` state: one is made; a rejection goes back to the
    state the transition leaves; the first level is the location's manager."""
    sales = (WORKFLOWS / "sales_order.yaml").read_text(encoding="utf-8")
    deliver = next(t for t in flow_design.view(sales).transitions if t.name == "deliver")
    ticked = transition_inputs(deliver) | {"approval": "1"}
    after = safe_load(flow_design.update_transition(sales, deliver.path, ticked, ROLES))
    assert after["states"]["in_approval"] == {"label": {"zh_CN": "审批中", "en": "In approval"}}
    approval = next(t for t in after["transitions"] if t["name"] == "deliver")["approval"]
    assert (approval["pending"], approval["reject_to"]) == ("in_approval", "confirmed")
    assert [level["approvers"] for level in approval["levels"]] == [{"manager": True}]
    # a flow that has the state waits in it, and nothing else is made
    cancel = next(t for t in flow_design.view(SCRAP).transitions if t.levels is None)
    ticked = transition_inputs(cancel) | {"approval": "1"}
    after = safe_load(flow_design.update_transition(SCRAP, cancel.path, ticked, ROLES))
    assert list(after["states"]) == list(safe_load(SCRAP)["states"])
    assert (
        next(t for t in after["transitions"] if t["name"] == cancel.name)["approval"]["pending"]
        == "in_approval"
    )
