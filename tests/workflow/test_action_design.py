"""The workflow designer's actions at the kernel of them: each action's parameters drawn from its
JSON Schema (built-ins and the example plugin alike); every step of every shipped flow saved
unchanged leaves the text as it was; steps added, filled in, ordered and removed; what a schema
does not take refused on its input, and the text left alone."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from flask_babel import force_locale
from werkzeug.datastructures import MultiDict

from app.meta.yaml_edit import DesignRefused, safe_load
from app.workflow import action_design
from app.workflow.actions import Action, ActionRegistry

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / "workflows"
COLD = (Path(__file__).parent / "workflows" / "cold_receipt.yaml").read_text(encoding="utf-8")
INVOICE = (WORKFLOWS / "purchase_invoice.yaml").read_text(encoding="utf-8")
SCRAP = (WORKFLOWS / "scrap.yaml").read_text(encoding="utf-8")


def inputs(step: action_design.StepView, **changed: str) -> MultiDict:
    """What the designer's form of ``step`` posts, with ``changed`` parameters typed in."""
    values = MultiDict({"when": step.when})
    labels = {param.name for param in step.params if param.kind == "label"}
    for param in step.params:
        if param.kind == "label":
            values[f"param.{param.name}.zh_CN"] = param.value
            values[f"param.{param.name}.en"] = param.value_en
        elif param.value:
            values[f"param.{param.name}"] = param.value
    for name, value in changed.items():
        in_chinese = ".zh_CN" if name in labels else ""  # a label's Chinese box
        values[name if name == "when" else f"param.{name}{in_chinese}"] = value
    return values


def step(text: str, path: str) -> action_design.StepView:
    transition, _slash, index = path.partition("/")
    return action_design.view(text).transitions[int(transition)].steps[int(index)]


def actions_of(text: str, transition: int) -> list[dict]:
    return safe_load(text)["transitions"][transition].get("actions")


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yaml")), ids=lambda path: path.stem)
def test_every_step_of_every_shipped_flow_saved_unchanged_is_unchanged(path):
    text = path.read_text(encoding="utf-8")
    for transition in action_design.view(text).transitions:
        hooked = [step for steps in transition.hooks.values() for step in steps]
        for shown in transition.steps + hooked:
            assert shown.installed, shown.action
            assert action_design.update_step(text, shown.path, inputs(shown)) == text, shown.path


def test_parameters_are_drawn_as_their_schema_asks():
    temperature, post = action_design.view(COLD).transitions[0].steps
    by_name = {param.name: param for param in temperature.params}
    assert temperature.label == "温度超出范围时拒绝流转"  # the plugin's own label
    assert [(p.name, p.kind, p.value, p.required) for p in temperature.params] == [
        ("field", "field", "arrival_temp", True), ("min", "number", "2", False),
        ("max", "number", "8", False),
    ]  # fmt: skip
    assert by_name["min"].label == "最低温度（℃）" and by_name["max"].default == "8"
    post_params = {param.name: param for param in post.params}
    assert [param.name for param in post.params][:4] == ["lines", "item", "quantity", "reason"]
    assert post_params["destination_status"].kind == "choice"
    assert "nonconforming" in post_params["destination_status"].choices
    assert post_params["item"].label == "商品字段"  # PARAM_WORDS
    notify = action_design.view(COLD).transitions[1].steps[1]
    assert {p.name: (p.kind, p.value) for p in notify.params}["creator"] == ("switch", "1")
    assert {p.name: p.kind for p in notify.params}["roles"] == "names"


def test_a_step_added_is_filled_in_and_written():
    fields = {"lines", "item", "quantity", "lot", "location"}
    added = action_design.add_step(SCRAP, "1", {"action": "notify"}, fields)
    assert actions_of(added, 1)[-1] == {"action": "notify"}
    path = f"1/{len(actions_of(added, 1)) - 1}"
    shown = step(added, path)
    typed = inputs(shown, message="报损已取消 / Scrap cancelled", roles="qa, store_manager",
                   creator="1", when="total > 0")  # fmt: skip
    filled = action_design.update_step(added, path, typed)
    assert actions_of(filled, 1)[-1] == {
        "action": "notify", "when": "total > 0",
        "params": {"message": "报损已取消 / Scrap cancelled", "creator": True,
                   "roles": ["qa", "store_manager"]},
    }  # fmt: skip
    written = (
        "params: {message: 报损已取消 / Scrap cancelled, creator: true, roles: [qa, store_manager]}"
    )
    assert written in filled


def test_a_new_step_names_the_fields_its_required_parameters_are_called_after():
    added = action_design.add_step(SCRAP, "0", {"action": "post_stock"},
                                   {"lines", "item", "quantity", "location"})  # fmt: skip
    # reason is a choice, not a field: left for the admin (the preview says it is missing)
    assert actions_of(added, 0)[-1] == {
        "action": "post_stock",
        "params": {"lines": "lines", "item": "item", "quantity": "quantity"},
    }


def test_a_transition_without_actions_gets_them_before_its_approval():
    text = "\n".join([
        "form: f", "initial: a", "states: {a: {}, b: {}, c: {}}", "transitions:",
        "  - name: go", "    from: a", "    to: c",
        "    approval: {pending: b, levels: [{name: m, approvers: {manager: true}}]}", "",
    ])  # fmt: skip
    added = action_design.add_step(text, "0", {"action": "set_field"}, set())
    assert list(safe_load(added)["transitions"][0]) == ["name", "from", "to", "actions", "approval"]


def test_parameters_missing_are_not_refused_while_filling_in():
    added = action_design.add_step(SCRAP, "1", {"action": "notify"}, set())
    path = f"1/{len(actions_of(added, 1)) - 1}"
    filled = action_design.update_step(added, path, MultiDict({"param.creator": "1"}))
    assert actions_of(filled, 1)[-1] == {"action": "notify", "params": {"creator": True}}
    # adjust_stock takes one of reason and reason_field: neither given yet is not refused
    added = action_design.add_step(SCRAP, "1", {"action": "adjust_stock"}, set())
    filled = action_design.update_step(added, path, MultiDict({"param.item": "item"}))
    assert actions_of(filled, 1)[-1] == {"action": "adjust_stock", "params": {"item": "item"}}


@pytest.mark.parametrize(
    ("path", "param", "value", "says"),
    [
        ("0/0", "min", "two", "enter a number"),  # the plugin's number
        ("0/0", "field", "Arrival Temp", "names a field"),
        ("0/1", "reason", "stolen", "choose one of"),  # a built-in's enum
        ("0/1", "destination_status", "lost", "choose one of"),
    ],
)
def test_a_value_the_schema_does_not_take_is_refused_on_its_input(path, param, value, says):
    with pytest.raises(DesignRefused) as refused:
        action_design.update_step(COLD, path, inputs(step(COLD, path), **{param: value}))
    assert refused.value.field == f"param.{param}" and says in str(refused.value)


def test_a_message_too_long_or_yaml_that_does_not_read_is_refused():
    notify = step(COLD, "1/1")
    with pytest.raises(DesignRefused) as refused:
        action_design.update_step(COLD, "1/1", inputs(notify, message="x" * 401))
    assert refused.value.field == "param.message"
    text = (WORKFLOWS / "maintenance_check.yaml").read_text(encoding="utf-8")
    fill = step(text, "0/0")
    assert {p.name: p.kind for p in fill.params}["line_defaults"] == "yaml"
    with pytest.raises(DesignRefused) as refused:
        action_design.update_step(text, "0/0", inputs(fill, line_defaults="{finding: [normal"))
    assert refused.value.field == "param.line_defaults"
    abnormal = inputs(fill, line_defaults="{finding: abnormal}")
    changed = action_design.update_step(text, "0/0", abnormal)
    assert actions_of(changed, 0)[0]["params"]["line_defaults"] == {"finding": "abnormal"}


def test_a_message_is_a_box_per_language_and_the_chinese_alone_is_read_in_both():
    text = (WORKFLOWS / "transfer_out.yaml").read_text(encoding="utf-8")
    flow = action_design.view(text)
    said = [(t.path, s) for t in flow.transitions for s in t.steps if s.action == "notify"]
    (where, shown), *_more = said
    message = next(p for p in shown.params if p.name == "message")
    written = safe_load(text)["transitions"][int(where)]["actions"]
    words = next(s["params"]["message"] for s in written if s["action"] == "notify")
    assert (message.kind, message.value, message.value_en) == ("label", words["zh_CN"], words["en"])
    # the Chinese alone: one text, read in both languages
    alone = action_design.update_step(text, shown.path, inputs(shown, **{"message.en": ""}))
    assert _message(alone, shown.path) == words["zh_CN"]
    # both: a label; a plain text given its English becomes one
    plain = step(COLD, "1/1")
    assert (plain.params[0].kind, plain.params[0].value, plain.params[0].value_en) == (
        "label", "approved", "")  # fmt: skip
    both = action_design.update_step(COLD, "1/1", inputs(plain, **{"message.en": "Approved"}))
    assert _message(both, "1/1") == {"zh_CN": "approved", "en": "Approved"}
    assert "message: {zh_CN: approved, en: Approved}" in both
    # the English alone is one text too; none at all drops the parameter
    english = inputs(plain, message="", **{"message.en": "Approved"})
    assert _message(action_design.update_step(COLD, "1/1", english), "1/1") == "Approved"
    none = action_design.update_step(COLD, "1/1", inputs(plain, message=""))
    assert "message" not in actions_of(none, 1)[1]["params"]
    # too long in one language: refused on that language's box
    with pytest.raises(DesignRefused) as refused:
        action_design.update_step(COLD, "1/1", inputs(plain, **{"message.en": "x" * 401}))
    assert refused.value.field == "param.message.en" and "at most 400" in str(refused.value)


def _message(text: str, path: str):
    transition, _slash, index = path.partition("/")
    return actions_of(text, int(transition))[int(index)]["params"]["message"]


def test_shared_parameters_stay_the_yamls_and_the_condition_still_changes():
    confirm, red = action_design.view(INVOICE).transitions[0].steps
    assert confirm.shared and red.shared  # &receipts, &original
    void = action_design.view(INVOICE).transitions[1].steps[0]
    assert void.shared  # {<<: *receipts, undo: true}
    changed = action_design.update_step(INVOICE, "1/0", inputs(void, when="total > 0", undo=""))
    assert actions_of(changed, 1)[0]["when"] == "total > 0"
    assert actions_of(changed, 1)[0]["params"]["undo"] is True
    assert "params: {<<: *receipts, undo: true}" in changed


def test_steps_are_ordered_and_removed_and_the_last_takes_its_key_along():
    moved = action_design.move_step(COLD, "1/1", -1)
    assert [s["action"] for s in actions_of(moved, 1)] == ["notify", "post_stock"]
    assert action_design.move_step(COLD, "1/0", -1) == COLD  # already first
    once = action_design.remove_step(COLD, "0/0")
    assert [s["action"] for s in actions_of(once, 0)] == ["post_stock"]
    assert "actions" not in safe_load(action_design.remove_step(once, "0/0"))["transitions"][0]


def test_stale_steps_and_unknown_actions_are_refused():
    with pytest.raises(DesignRefused, match="no longer where"):
        action_design.update_step(COLD, "0/7", MultiDict())
    with pytest.raises(DesignRefused, match="no longer where"):
        action_design.remove_step(COLD, "2/0")  # approve_large runs no actions
    with pytest.raises(DesignRefused) as refused:
        action_design.add_step(COLD, "0", {"action": "launch_rocket"}, set())
    assert refused.value.field == "action"


def test_an_action_not_installed_is_named_and_its_parameters_kept():
    text = COLD.replace("action: check_temperature", "action: check_humidity")
    shown = step(text, "0/0")
    assert not shown.installed and shown.label == ""
    assert [(p.name, p.kind, p.value) for p in shown.params][:2] == [
        ("field", "yaml", "arrival_temp"), ("min", "yaml", "2")
    ]  # fmt: skip
    changed = action_design.update_step(text, "0/0", MultiDict({"when": "amount > 0"}))
    assert actions_of(changed, 0)[0] == {
        "action": "check_humidity", "when": "amount > 0",
        "params": {"field": "arrival_temp", "min": 2, "max": 8},
    }  # fmt: skip


def test_an_approvals_hooks_take_steps_like_a_transition():
    text = (WORKFLOWS / "stocktake.yaml").read_text(encoding="utf-8")
    flow = action_design.view(text)
    with_hooks = next(t for t in flow.transitions if t.hooks)
    path = with_hooks.path
    assert [s.action for s in with_hooks.hooks["on_pending"]] == ["review_stocktake"]
    assert with_hooks.hooks["on_reject"][0].path == f"{path}/on_reject/0"
    hooks = lambda changed: safe_load(changed)["transitions"][int(path)]["approval"]  # noqa: E731
    added = action_design.add_step(text, f"{path}/on_reject", {"action": "notify"}, set())
    assert hooks(added)["on_reject"] == [{"action": "resume_stocktake"}, {"action": "notify"}]
    # a one-line list of steps opens up rather than come back as [action: a, action: b]
    opened = "      on_reject:\n        - {action: resume_stocktake}\n        - action: notify\n"
    assert opened in added
    filled = action_design.update_step(added, f"{path}/on_reject/1",
                                       MultiDict({"param.message.zh_CN": "退回重盘"}))  # fmt: skip
    assert hooks(filled)["on_reject"][1] == {"action": "notify", "params": {"message": "退回重盘"}}
    gone = action_design.remove_step(text, f"{path}/on_pending/0")
    assert "on_pending" not in hooks(gone) and "on_reject" in hooks(gone)
    scrap = action_design.add_step(SCRAP, "0/on_pending", {"action": "notify"}, set())
    assert list(safe_load(scrap)["transitions"][0]["approval"]) == [
        "pending", "reject_to", "levels", "on_pending"
    ]  # fmt: skip
    with pytest.raises(DesignRefused, match="no longer where"):
        action_design.add_step(SCRAP, "1/on_pending", {"action": "notify"}, set())  # no approval
    with pytest.raises(DesignRefused, match="no longer where"):
        action_design.add_step(SCRAP, "0/on_fire", {"action": "notify"}, set())


class BoundedTemperature(Action):
    """``check_temperature`` as a stricter plugin might declare it: bounds and a list of names."""

    name = "check_temperature"
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "field": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
            "min": {"type": "number", "minimum": -30},
            "max": {"type": "number", "exclusiveMaximum": 40},
            "also": {
                "type": "array",
                "items": {"type": "string"},
                "minItems": 2,
                "maxItems": 3,
                "uniqueItems": True,
            },
            "note": {"type": "string", "minLength": 2, "maxLength": 5},
            "limits": {"type": "object"},
        },
    }


@pytest.mark.parametrize(
    ("param", "value", "says"),
    [("min", "-40", "min must be ≥ -30"), ("max", "40", "max must be < 40"),
     ("also", "only_one", "also names at least 2"), ("also", "a, b, c, d", "names at most 3"),
     ("also", "a, a", "also names each one only once"), ("note", "x", "at least 2 characters"),
     ("note", "toolong", "note takes at most 5 characters"),
     ("limits", "[1, 2]", "limits must be a mapping")],
)  # fmt: skip
def test_a_plugins_bounds_are_said_in_the_refusal(param, value, says):
    registry = ActionRegistry({"check_temperature": BoundedTemperature()})
    shown = action_design.view(COLD, registry).transitions[0].steps[0]
    with pytest.raises(DesignRefused) as refused:
        action_design.update_step(COLD, "0/0", inputs(shown, **{param: value}), registry)
    assert refused.value.field == f"param.{param}" and says in str(refused.value)


@pytest.mark.parametrize(("typed", "written"), [("2.5", "min: 2.5"), ("-0.1", "min: -0.1"),
                                                ("3", "min: 3")])  # fmt: skip
def test_a_number_is_written_as_typed(typed, written):
    shown = action_design.view(COLD).transitions[0].steps[0]
    changed = action_design.update_step(COLD, "0/0", inputs(shown, min=typed))
    assert written in changed
    assert Decimal(str(actions_of(changed, 0)[0]["params"]["min"])) == Decimal(typed)


def test_a_refusal_is_said_in_the_admins_language(app):
    registry = ActionRegistry({"check_temperature": BoundedTemperature()})
    shown = action_design.view(COLD, registry).transitions[0].steps[0]
    with app.test_request_context(), force_locale("zh_CN"):
        with pytest.raises(DesignRefused, match="limits 须为键值映射"):
            action_design.update_step(COLD, "0/0", inputs(shown, limits="[1, 2]"), registry)
        with pytest.raises(DesignRefused, match="note 最多 5 个字符"):
            action_design.update_step(COLD, "0/0", inputs(shown, note="toolong"), registry)


def test_a_step_two_transitions_share_is_changed_for_both_and_written_once():
    """The transfer out's review_ship runs `ship`'s steps (YAML aliases of them): changed on
    either transition, the one step changes for both, and the text keeps one copy of it."""
    text = (WORKFLOWS / "transfer_out.yaml").read_text(encoding="utf-8")
    flow = action_design.view(text)
    names = [transition.name for transition in flow.transitions]
    ship, review = names.index("ship"), names.index("review_ship")
    shared = step(text, f"{review}/1")
    assert shared.action == "ship_transfer"
    changed = action_design.update_step(text, shared.path, inputs(shared, recall=""))
    assert "recall" not in actions_of(changed, ship)[1]["params"]
    assert actions_of(changed, review)[1] == actions_of(changed, ship)[1]
    # one copy of the shared step (picking done's check runs a step of its own)
    assert changed.count("action: ship_transfer") == 2 and "- *ship_goods" in changed
