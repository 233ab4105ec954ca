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
        with pytest.raises(ActionError, match="arrival|no temperature"):
            CheckTemperature().run(context)
    else:
        CheckTemperature().run(context)
