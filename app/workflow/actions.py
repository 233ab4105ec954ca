"""Workflow actions are plugins.

What a transition *does* — post stock, reserve, set a field, create a record, notify, call a
webhook — is an action: a class with a ``name``, a JSON Schema for its parameters and a
``run(context)`` method. Built-ins and third-party actions are found the same way, through the
``lianku.actions`` entry-point group, so an integrator adds one by installing a package:

.. code-block:: toml

    [project.entry-points."lianku.actions"]
    check_temperature = "my_package.actions:CheckTemperature"

An action signals a business refusal by raising ``ActionError`` with a message for the user;
the transition and everything its actions wrote are then rolled back together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from typing import Any, ClassVar

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError
from sqlalchemy.orm import Session

ENTRY_POINT_GROUP = "lianku.actions"


class ActionError(Exception):
    """An action refused to run; ``str(error)`` is shown to the user as the reason."""


class PluginError(Exception):
    """A plugin is broken (bad entry point, name mismatch, invalid parameter schema)."""


@dataclass
class ActionContext:
    """What an action sees: the open transaction, the record, who fires it and with what."""

    session: Session
    record: Any
    user: Any
    params: dict
    transition: str
    comment: str | None = None
    #: Values actions hand to later actions of the same transition (e.g. a created record).
    outputs: dict = field(default_factory=dict)
    #: The record service as actions may use it: ``records.create(form, data)`` (filled by the
    #: engine, so that plugins need not import the metadata engine).
    records: Any = None
    #: The state the record moves to once every action has run.
    target_state: str | None = None


#: What the parameters most actions share are called in the workflow designer; an action's own
#: ``param_labels`` (or a property's JSON Schema ``title``) names the others.
PARAM_WORDS = {
    "lines": {"zh_CN": "明细表", "en": "Lines table"},
    "item": {"zh_CN": "商品字段", "en": "Item field"},
    "lot": {"zh_CN": "批号字段", "en": "Lot field"},
    "expiry_date": {"zh_CN": "有效期字段", "en": "Expiry date field"},
    "serial": {"zh_CN": "序列号字段", "en": "Serial number field"},
    "quantity": {"zh_CN": "数量字段", "en": "Quantity field"},
    "unit_cost": {"zh_CN": "单位成本字段", "en": "Unit cost field"},
    "location": {"zh_CN": "库存地点字段", "en": "Location field"},
    "status": {"zh_CN": "库存状态字段", "en": "Stock status field"},
    "source": {"zh_CN": "发出地点字段", "en": "Source location field"},
    "destination": {"zh_CN": "接收地点字段", "en": "Destination location field"},
    "source_status": {"zh_CN": "发出时的库存状态", "en": "Stock status it leaves"},
    "destination_status": {"zh_CN": "接收后的库存状态", "en": "Stock status it reaches"},
    "reason": {"zh_CN": "库存流水原因", "en": "Ledger reason"},
    "supplier": {"zh_CN": "供应商字段", "en": "Supplier field"},
    "customer": {"zh_CN": "客户字段", "en": "Customer field"},
    "allocation": {"zh_CN": "订单分配字段", "en": "Allocation field"},
    "document": {"zh_CN": "所冲抵单据的字段", "en": "Field naming the document"},
    "form": {"zh_CN": "表单", "en": "Form"},
    "message": {"zh_CN": "消息", "en": "Message"},
    "creator": {"zh_CN": "通知创建人", "en": "Tell the record's creator"},
    "roles": {"zh_CN": "通知的角色", "en": "Roles to tell"},
    "users": {"zh_CN": "通知的用户（用户名）", "en": "Users to tell (user names)"},
    "fired_by": {"zh_CN": "通知最近执行该操作的人", "en": "Tell who last fired this transition"},
    "about": {"zh_CN": "消息所关于的关联单据字段", "en": "Link field of the record it is about"},
    "field": {"zh_CN": "字段", "en": "Field"},
    "value": {"zh_CN": "值", "en": "Value"},
    "undo": {"zh_CN": "撤销（反向冲抵）", "en": "Undo (count back)"},
    "url": {"zh_CN": "网址", "en": "URL"},
}


class Action:
    """Base class of every action: set ``name`` and ``params_schema``, implement ``run``; a
    ``label`` (``{"zh_CN": …, "en": …}``) says in a line what it does, for the workflow editor,
    and ``param_labels`` what each parameter is (by name, the same shape) where ``PARAM_WORDS``
    does not."""

    name: ClassVar[str]
    label: ClassVar[dict] = {}
    params_schema: ClassVar[dict] = {"type": "object", "additionalProperties": False}
    param_labels: ClassVar[dict] = {}

    def run(self, context: ActionContext) -> None:
        raise NotImplementedError


class ActionRegistry:
    """The installed actions by name, with their parameter validators."""

    def __init__(self, actions: dict[str, Action]):
        self._actions = actions
        self._validators = {}
        for name, action in actions.items():
            try:
                Draft202012Validator.check_schema(action.params_schema)
            except SchemaError as exc:
                raise PluginError(f"action {name}: invalid params_schema: {exc.message}") from None
            self._validators[name] = Draft202012Validator(action.params_schema)

    @classmethod
    def from_entry_points(cls) -> ActionRegistry:
        actions: dict[str, Action] = {}
        for entry_point in entry_points(group=ENTRY_POINT_GROUP):
            try:
                action_class = entry_point.load()
            except Exception as exc:  # a broken third-party package must name itself
                raise PluginError(
                    f"action {entry_point.name} ({entry_point.value}): {exc}"
                ) from exc
            if getattr(action_class, "name", None) != entry_point.name:
                raise PluginError(
                    f"action {entry_point.value} is registered as {entry_point.name!r} "
                    f"but calls itself {getattr(action_class, 'name', None)!r}"
                )
            actions[entry_point.name] = action_class()
        return cls(actions)

    def names(self) -> list[str]:
        return sorted(self._actions)

    def __contains__(self, name: str) -> bool:
        return name in self._actions

    def get(self, name: str) -> Action:
        return self._actions[name]

    def params_errors(self, name: str, params: dict) -> list[ValidationError]:
        """Each way ``params`` breaks the action's own JSON Schema."""
        return list(self._validators[name].iter_errors(params))


@cache
def installed_actions() -> ActionRegistry:
    """The actions installed in this environment (read once per process)."""
    return ActionRegistry.from_entry_points()
