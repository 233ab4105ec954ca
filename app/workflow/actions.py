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

A package whose entry point is broken (its module missing or failing to import, or registered
under a name other than its action's ``name``) is not a crash: ``ActionRegistry.problems`` lists
it, and the workflow checks report it as one problem — ``lianku check`` exits 1 and the
application refuses to start, naming the distribution, the entry point and what went wrong.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any, ClassVar

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError
from sqlalchemy.orm import Session

from app.i18n import _

ENTRY_POINT_GROUP = "lianku.actions"


class ActionError(Exception):
    """An action refused to run; ``str(error)`` is shown to the user as the reason, and
    ``field`` (when the refusal is about one: ``customer``, ``deliveries[2].serial``) is named
    to the API and marked on the form."""

    def __init__(self, message: object = "", field: str | None = None):
        super().__init__(message)
        if field is not None:
            self.field = field


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
    #: The transition is only previewed (``POST …/transitions/<t>/preview``): everything it
    #: writes to the database is rolled back afterwards, but nothing else is — an action with an
    #: effect outside the database (a call to an ERP, a mail, a file) must skip it now.
    preview: bool = False


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
    does not.

    Two rules every action keeps:

    **Write only the form's fields.** An action that writes ``context.record.data`` writes only
    fields its form declares (in its header, or in a table's lines the table's own fields), each
    with a value the field can hold: the API and the pages show only declared fields, read as
    their type, so anything else is kept but never seen, and a wrong type breaks what reads it.
    Pass a value through ``context.records.value_for(form, field, value)``, which gives it as a
    save through the form would store it or refuses it naming the field. List in ``writes`` the
    parameters that name a header field the action writes: the workflow checks then refuse, at
    load, a step naming a field the form does not have. The engine itself refuses, when the
    action has run, a header key the form does not declare.

    **No effect outside the database on a preview.** ``POST …/transitions/<t>/preview`` runs the
    transition's actions for real and then rolls the database back; nothing else is rolled back.
    An action with an external effect (an HTTP call to an ERP, a mail, a file written) does
    nothing of it when ``context.preview`` is true. Better still, it defers the effect until the
    transaction commits by queueing a job (``app.kernel.jobs.enqueue``, as ``webhook`` does): the
    job is written in the same transaction, so a preview, a refusal by a later action or any
    rollback leaves no job, and the worker runs it — and tries it again — only once it is
    committed. (The engine has no after-commit callback: the job queue is that hook.)
    """

    name: ClassVar[str]
    label: ClassVar[dict] = {}
    params_schema: ClassVar[dict] = {"type": "object", "additionalProperties": False}
    param_labels: ClassVar[dict] = {}
    #: The parameters naming a header field of the form that the action writes (``set_field``'s
    #: ``field``): each must name one of the form's own fields, not a computed one.
    writes: ClassVar[tuple[str, ...]] = ()

    def run(self, context: ActionContext) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class PluginProblem:
    """An entry point of the ``lianku.actions`` group that gives no usable action: which one,
    of which installed distribution, and what went wrong (its ``reason``)."""

    entry_point: str
    target: str  # what it points at, ``module:Class``
    distribution: str  # "name version", or "" when the entry point has no distribution
    reason: str


class ActionRegistry:
    """The installed actions by name, with their parameter validators; ``problems`` are the
    entry points that gave no usable action (left out, and reported by the workflow checks)."""

    def __init__(self, actions: dict[str, Action], problems: list[PluginProblem] | None = None):
        self._actions = actions
        self._validators = {}
        self.problems = list(problems or [])
        for name, action in actions.items():
            try:
                Draft202012Validator.check_schema(action.params_schema)
            except SchemaError as exc:
                raise PluginError(f"action {name}: invalid params_schema: {exc.message}") from None
            self._validators[name] = Draft202012Validator(action.params_schema)

    @classmethod
    def from_entry_points(cls) -> ActionRegistry:
        """Every action the installed packages register; an entry point that fails is noted in
        ``problems`` with its distribution, not raised: ``lianku check`` lists it with the rest."""
        actions: dict[str, Action] = {}
        problems: list[PluginProblem] = []
        for entry_point in entry_points(group=ENTRY_POINT_GROUP):
            try:
                action = _loaded(entry_point)
            except PluginError as exc:
                problems.append(_problem(entry_point, str(exc)))
                continue
            if entry_point.name in actions:
                problems.append(_problem(entry_point, _twice(entry_point.name)))
                continue
            actions[entry_point.name] = action
        return cls(actions, problems)

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


def _loaded(entry_point: EntryPoint) -> Action:
    """The action ``entry_point`` registers, or ``PluginError`` saying in a line why there is
    none (the traceback of a failed import helps nobody reading ``lianku check``)."""
    try:
        action_class = entry_point.load()
    except Exception as exc:  # whatever a third-party module raises as it is imported
        raise PluginError(_("cannot load it: %(error)s", error=_one_line(exc))) from None
    if not callable(getattr(action_class, "run", None)):
        raise PluginError(_("%(target)s is not an action: it has no run method",
                            target=entry_point.value))  # fmt: skip
    called = getattr(action_class, "name", None)
    if called != entry_point.name:
        raise PluginError(
            _("the action calls itself '%(called)s': the entry point must have the action's name",
              called=called)
        )  # fmt: skip
    try:
        action = action_class()
        Draft202012Validator.check_schema(action.params_schema)
    except SchemaError as exc:
        raise PluginError(_("invalid params_schema: %(error)s", error=exc.message)) from None
    except Exception as exc:
        raise PluginError(_("cannot load it: %(error)s", error=_one_line(exc))) from None
    return action


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _twice(name: str) -> str:
    return _("another installed package registers an action named '%(name)s' too", name=name)


def _problem(entry_point: EntryPoint, reason: str) -> PluginProblem:
    dist = getattr(entry_point, "dist", None)
    named = f"{dist.metadata['Name']} {dist.version}" if dist is not None else ""
    return PluginProblem(entry_point.name, entry_point.value, named, reason)
