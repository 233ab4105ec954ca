"""Actions are plugins found through the ``lianku.actions`` entry points, built-ins included."""

from types import SimpleNamespace

import pytest

from app.plugins.set_field import SetField
from app.workflow import ActionContext, ActionError, installed_actions
from app.workflow.actions import Action, ActionRegistry, PluginError
from lianku_example_plugin.actions import CheckTemperature


def test_built_in_and_third_party_actions_are_discovered_the_same_way():
    registry = installed_actions()
    assert "set_field" in registry
    assert "check_temperature" in registry  # from the installed example package
    assert isinstance(registry.get("check_temperature"), CheckTemperature)


def test_parameters_are_checked_against_the_actions_schema():
    registry = installed_actions()
    assert registry.params_errors("check_temperature", {"field": "arrival_temp", "max": 8}) == []
    [error] = registry.params_errors("check_temperature", {"field": "arrival_temp", "max": "8"})
    assert list(error.absolute_path) == ["max"]


def test_a_plugin_with_an_invalid_schema_is_refused():
    class Broken(Action):
        name = "broken"
        params_schema = {"type": "no-such-type"}

    with pytest.raises(PluginError, match="action broken: invalid params_schema"):
        ActionRegistry({"broken": Broken()})


def _context(action_params, data):
    record = SimpleNamespace(data=data)
    return ActionContext(session=None, record=record, user=None, params=action_params,
                         transition="inspect")  # fmt: skip


def test_set_field_writes_the_value():
    context = _context({"field": "conclusion", "value": "accepted"}, {"lot": "A1"})
    SetField().run(context)
    assert context.record.data == {"lot": "A1", "conclusion": "accepted"}


@pytest.mark.parametrize(
    ("temperature", "refused"), [("5.5", False), ("8", False), ("8.1", True), (None, True)]
)
def test_example_plugin_checks_the_cold_chain_band(temperature, refused):
    context = _context({"field": "arrival_temp", "min": 2, "max": 8},
                       {"arrival_temp": temperature})  # fmt: skip
    if refused:
        with pytest.raises(ActionError, match="到货温度|未记录温度"):  # Chinese: no request
            CheckTemperature().run(context)
    else:
        CheckTemperature().run(context)


def test_check_review_compares_the_goods_by_item_lot_and_serial(db):
    from app.kernel import audit
    from app.kernel.items import add_item
    from app.kernel.users import User
    from app.plugins.review import CheckReview

    with db.transaction() as session:
        pump = add_item(session, "PUMP", "输液泵", tracking="serial", expiry_required=False)
        gauze = add_item(session, "GAUZE", "纱布", tracking="none", expiry_required=False)
        picked = [{"item": gauze.id, "quantity": "10"}]
        picked += [{"item": pump.id, "serial": f"S{n}", "quantity": "1"} for n in range(1, 8)]
        params = {"picked": "picked", "reviewed": "reviewed", "item": "item",
                  "quantity": "quantity", "reviewer": "reviewer"}  # fmt: skip
        user = SimpleNamespace(id=7)

        def review(rows, by=user):
            record = SimpleNamespace(id=0, data={"picked": picked, "reviewed": rows})
            context = ActionContext(session=session, record=record, user=by, params=params,
                                    transition="review_deliver")  # fmt: skip
            CheckReview().run(context)
            return record.data

        # lines nobody scanned as picked (an action wrote them) are not reviewed
        with pytest.raises(ActionError, match="Nobody has scanned the goods as picked yet"):
            review(picked)
        picker = User(username="picker", full_name="Picker", password_hash="-")
        session.add(picker)
        session.flush()
        audit.record(session, "update", "record", 0, changes={"picked": [None, picked]},
                     context=audit.AuditContext(user_id=picker.id))  # fmt: skip
        with pytest.raises(ActionError, match="You saved the picking scans"):
            review(picked, by=picker)
        # the same units in another order, the gauze counted in two parts: passes, stamps
        same = [*reversed(picked[1:]), {"item": gauze.id, "quantity": "4"},
                {"item": gauze.id, "quantity": "6.000"}]  # fmt: skip
        data = review(same)
        assert data["reviewer"] == 7 and "reviewed_at" not in data  # only the fields named
        # every unit swapped for another and one gauze short: five named, the rest counted
        others = [{**row, "serial": f"T{n}"} for n, row in enumerate(picked[1:], start=1)]
        with pytest.raises(ActionError) as refused:
            review([*others, {"item": gauze.id, "quantity": "9"}])
        assert str(refused.value) == (
            "The review does not match the goods picked: GAUZE picked 10, reviewed 9; "
            "PUMP serial S1 picked 1, reviewed 0; PUMP serial S2 picked 1, reviewed 0; "
            "PUMP serial S3 picked 1, reviewed 0; PUMP serial S4 picked 1, reviewed 0"
            " and 10 more."
        )
        with pytest.raises(ActionError, match="Scan the goods again"):
            review([])
        picked = []  # nothing leaves from here: nothing to review, nobody stamped
        assert "reviewer" not in review([])
