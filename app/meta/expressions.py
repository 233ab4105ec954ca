"""Expressions: formulas, defaults, conditions and validation rules written in metadata.

Compile once (when metadata loads) with the set of names the expression may use; evaluate many
times with the values. Evaluation runs in ``simpleeval`` on a checked AST, so:

* no attribute access (``a.b``), no subscripts, no dunder names, no comprehensions or lambdas;
* only the functions in ``FUNCTIONS`` may be called, only by name;
* the text, the AST (node count and depth), strings and powers are bounded, so nothing hangs;
* number literals with a decimal point are ``Decimal``; values given to ``evaluate`` should be
  ``Decimal`` too (``typed`` values of a record are), so money never touches a float.

Syntax in one paragraph: Python expressions over the record's field names
(``quantity * unit_cost``, ``a if b else c``, ``x > 0 and y != 'z'``). A table field is a list
of lines; aggregate it with ``sum(lines, 'amount')`` or ``count(lines)``. Inside a table, a line's
own fields are names too (they shadow the record's). Functions: ``round(x, n)``, ``min``, ``max``,
``abs``, ``len``, ``today()``, ``now()``, ``days(n)`` (a duration: ``today() + days(30)``),
``days_between(a, b)``, ``lookup(link_field, 'field')`` (a linked record's field),
``sum(table, 'field')``, ``count(table)``, ``common(table, 'field')`` (the value all its lines
hold), ``decimal(text)``, ``valid_on(table, date)`` (the lines in force on the date by their
``valid_from``/``valid_until``). A ``link_filter`` (an
expression over the linked row's fields) may name the referring record's header fields with
``this('field')``: ``supplier == this('supplier')`` offers the invoice's supplier's receipts only.
"""

from __future__ import annotations

import ast
import datetime as dt
import functools
import itertools
import operator
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

import simpleeval

from app.db import utcnow
from app.i18n import _
from app.kernel.items import business_today, is_valid_gtin
from app.kernel.prices import PriceKind

MAX_LENGTH = 1000  # characters of expression text
MAX_NODES = 200  # AST nodes
MAX_DEPTH = 24  # AST nesting
MAX_STRING = 10_000  # characters of any string an expression builds
MAX_EXPONENT = 64  # largest power allowed
MAX_DAYS = 366 * 200  # largest duration days() accepts

ALLOWED_NODES = (
    ast.Expression,
    ast.BoolOp,
    ast.BinOp,
    ast.UnaryOp,
    ast.Compare,
    ast.IfExp,
    ast.Call,
    ast.Constant,
    ast.Name,
    ast.Load,
    ast.Tuple,
    ast.List,
    ast.And,
    ast.Or,
    ast.Not,
    ast.USub,
    ast.UAdd,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.FloorDiv,
    ast.Mod,
    ast.Pow,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
    ast.Is,
    ast.IsNot,
)


class ExpressionError(Exception):
    """An expression that cannot be compiled or evaluated; the message says why."""


@dataclass(frozen=True)
class Context:
    """What the functions that reach outside the record need: ``lookup`` and the clock."""

    #: ``lookup(link_field_name, its_value, wanted_field)``
    lookup: Callable[[str, object, str], object] | None = None
    #: the shops' date, not UTC's: from midnight to 08:00 in Shanghai UTC still says yesterday
    today: Callable[[], dt.date] = business_today
    #: a link filter's referring record's header values, for ``this('field')``
    this: dict | None = None
    #: the id of the one location the user works at, for ``my_location()`` (None: not one)
    my_location: Callable[[], int | None] | None = None
    #: the record's system columns (``number``, ``state``, ``id`` …) while its fields are
    #: checked: a field may show in some states only (``visible_if: state != 'draft'``)
    record: dict | None = None
    #: ``price(item, location, on, kind)``: the price a price change set, in force there that day
    price: Callable[[object, object, dt.date, str], object] | None = None
    #: ``known(kind, item, value)``: is there a lot (``kind`` "lot") or a unit ("serial") of
    #: that number for the item on record — for ``known_lot(item, lot)``, ``known_serial(…)``
    known: Callable[[str, object, object], bool] | None = None
    #: ``free_stock(item, location, lot)``: what of it may be picked there today
    free_stock: Callable[[object, object, object], object] | None = None


def _days(n) -> dt.timedelta:
    n = int(n)
    if abs(n) > MAX_DAYS:
        raise ExpressionError(_("days(%(n)s) is out of range", n=n))
    return dt.timedelta(days=n)


def _as_date(value) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def _days_between(a, b) -> int:
    if a is None or b is None:
        return None
    return (_as_date(b) - _as_date(a)).days


def _round(value, places=0):
    if value is None:
        return None
    places = int(places)
    if not 0 <= places <= 8:
        raise ExpressionError(_("round() keeps 0 to 8 decimal places"))
    return Decimal(value).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _sum(lines, field, key=None, value=None):
    """The ``field`` of ``lines`` added up, or (given a key) of the lines whose ``key`` holds
    ``value``: ``sum(lookup(sales_order, 'lines'), 'amount', 'item', item)``, what an order
    charged for the item over all its lines."""
    total = Decimal(0)
    for line in (lines or []) if key is None else _holding(lines, key, value):
        amount = line.get(field) if isinstance(line, dict) else None
        if amount is not None:
            total += amount if isinstance(amount, Decimal) else Decimal(amount)
    return total


def _holding(lines, field, value):
    """The ``lines`` whose ``field`` holds ``value`` (compared as text: an id may be 7 or "7")."""
    return (
        line
        for line in lines or []
        if isinstance(line, dict) and str(line.get(field)) == str(value)
    )


def _count(lines, field=None, value=None):
    """How many ``lines`` there are, or (given a field) how many hold ``value`` in it."""
    if field is None:
        return len(lines or [])
    return sum(1 for _line in _holding(lines, field, value))


def _common(lines, field):
    """The value every one of ``lines`` holds in ``field`` (compared as text), ``None`` when
    they differ, one holds none, or there are none: ``common(lookup(sales_order, 'lines'),
    'tax_rate')``, the rate an invoice bills an order at when all its lines sell at one."""
    held = [line.get(field) for line in lines or [] if isinstance(line, dict)]
    if not held or None in held or len({str(value) for value in held}) > 1:
        return None
    return held[0]


def _decimal(text):
    try:
        return Decimal(str(text))
    except InvalidOperation:
        raise ExpressionError(_("'%(text)s' is not a number", text=text)) from None


def _pick(lines, field, value, result):
    """``result`` of the first of ``lines`` whose ``field`` holds ``value`` (``None`` when none):
    ``pick(lookup(customer, 'prices'), 'item', item, 'price')``, a hospital's agreed price of the
    item from the price lines of its card."""
    if value is None:
        return None
    return next((line.get(result) for line in _holding(lines, field, value)), None)


def _valid_on(lines, on: dt.date):
    """The ``lines`` in force on ``on``: ``valid_from`` ≤ on ≤ ``valid_until``, an empty bound
    open — ``pick(valid_on(lookup(customer, 'prices'), sale_date), 'item', item, 'price')`` is
    the customer's agreed price of the item on the day of the sale, none once its tender ran out."""
    day = _as_date(on)
    return [
        line
        for line in lines or []
        if isinstance(line, dict)
        and (line.get("valid_from") in (None, "") or _as_date(line["valid_from"]) <= day)
        and (line.get("valid_until") in (None, "") or day <= _as_date(line["valid_until"]))
    ]


def _coalesce(*values):
    """The first of ``values`` that is not empty: ``coalesce(lookup(item, 'temperature_min'), 2)``
    (unlike ``or``, a 0 is a value)."""
    return next((value for value in values if value not in (None, "")), None)


def _len(value):
    return len(value) if value is not None else 0


def _gtin_ok(value) -> bool:
    """A GTIN-14 whose GS1 check digit is right (a mistyped digit is caught at the keyboard)."""
    return isinstance(value, str) and is_valid_gtin(value)


#: Functions an expression may call; ``today``, ``now``, ``lookup``, ``this``, ``valid_on``
#: (today by default), ``price``, ``known_lot``, ``known_serial`` and ``free_stock`` are bound
#: per evaluation.
PURE_FUNCTIONS: dict[str, Callable] = {
    "round": _round,
    "min": min,
    "max": max,
    "abs": abs,
    "len": _len,
    "days": _days,
    "days_between": _days_between,
    "sum": _sum,
    "count": _count,
    "pick": _pick,
    "coalesce": _coalesce,
    "common": _common,
    "decimal": _decimal,
    "gtin_ok": _gtin_ok,
}
FUNCTIONS = frozenset(
    {
        *PURE_FUNCTIONS,
        "today",
        "now",
        "lookup",
        "this",
        "valid_on",
        "my_location",
        "price",
        "known_lot",
        "known_serial",
        "free_stock",
    }  # fmt: skip
)
#: What ``price(…, kind)`` may ask for: the kernel's kinds of price.
PRICE_KINDS = tuple(kind.value for kind in PriceKind)
CONSTANTS = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}


def _power(base, exponent):
    if abs(exponent) > MAX_EXPONENT:
        raise ExpressionError(_("power larger than %(max)s refused", max=MAX_EXPONENT))
    if isinstance(base, int) and base.bit_length() * abs(exponent) > 4096:
        raise ExpressionError(_("power larger than %(max)s refused", max=MAX_EXPONENT))
    return operator.pow(base, exponent)


def _bounded(op):
    def apply(a, b):
        for value in (a, b):
            if isinstance(value, str | list | tuple) and len(value) > MAX_STRING:
                raise ExpressionError(_("value too long"))
        if op is operator.mul and (
            (isinstance(a, str | list | tuple) and isinstance(b, int))
            or (isinstance(b, str | list | tuple) and isinstance(a, int))
        ):
            length = len(a) * b if isinstance(b, int) else len(b) * a
            if length > MAX_STRING:
                raise ExpressionError(_("value too long"))
        result = op(a, b)
        if isinstance(result, str | list | tuple) and len(result) > MAX_STRING:
            raise ExpressionError(_("value too long"))
        return result

    return apply


def _blank_if_empty(op):
    """Like a spreadsheet: arithmetic with an empty value gives an empty result, so an amount
    whose price is not entered yet is empty, not an error."""

    def apply(*operands):
        if any(operand is None for operand in operands):
            return None
        return op(*operands)

    return apply


OPERATORS = dict(simpleeval.DEFAULT_OPERATORS)
OPERATORS.update(
    {
        ast.Pow: _power,
        ast.Add: _bounded(operator.add),
        ast.Mult: _bounded(operator.mul),
    }
)
for _arithmetic in (
    ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.USub, ast.UAdd
):  # fmt: skip
    if _arithmetic in OPERATORS:
        OPERATORS[_arithmetic] = _blank_if_empty(OPERATORS[_arithmetic])
for _unsafe in (ast.BitXor, ast.BitOr, ast.BitAnd, ast.LShift, ast.RShift, ast.Invert):
    OPERATORS.pop(_unsafe, None)


class Expression:
    """A compiled expression: the checked AST and the names it reads."""

    def __init__(self, text: str, tree: ast.Expression, names: frozenset[str]):
        self.text, self.tree, self.names = text, tree, names

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"

    @functools.cached_property
    def this_fields(self) -> frozenset[str]:
        """The referring record's fields it reads with ``this('field')`` (found once: each link
        check and each picker search asks)."""
        return frozenset(
            node.args[0].value
            for node in ast.walk(self.tree)
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "this"
        )

    def evaluate(self, values: dict, context: Context | None = None):
        """The value of the expression over ``values``; raise ``ExpressionError`` on failure."""
        context = context or Context()
        functions = dict(PURE_FUNCTIONS)
        functions["today"] = context.today
        functions["now"] = utcnow
        functions["valid_on"] = lambda lines, on=None: _valid_on(
            lines, context.today() if on is None else on
        )
        if context.lookup is not None:
            lookup = context.lookup
            functions["lookup"] = lambda name, field: lookup(name, values.get(name), field)
        else:
            functions["lookup"] = lambda name, field: None
        this = context.this or {}
        functions["this"] = lambda name: this.get(name)
        functions["my_location"] = context.my_location or (lambda: None)
        price = context.price or (lambda item, location, on, kind: None)
        functions["price"] = lambda item, location=None, on=None, kind="retail": price(
            item, location, context.today() if on is None else _as_date(on), kind
        )
        known = context.known or (lambda kind, item, value: False)
        functions["known_lot"] = lambda item, lot: known("lot", item, lot)
        functions["known_serial"] = lambda item, serial: known("serial", item, serial)
        free = context.free_stock or (lambda item, location, lot: Decimal(0))
        functions["free_stock"] = lambda item, location, lot=None: free(item, location, lot)
        names = dict(CONSTANTS)
        names.update(dict.fromkeys(self.names))  # a declared field left out of the input is None
        names.update(context.record or {})
        names.update(values)
        evaluator = _take_evaluator()
        evaluator.functions, evaluator.names = functions, names
        try:
            return evaluator.eval(self.text, previously_parsed=self.tree.body)
        except ExpressionError:
            raise
        except simpleeval.NameNotDefined as exc:
            raise ExpressionError(_("unknown name '%(name)s'", name=exc.name)) from None
        except ZeroDivisionError:
            raise ExpressionError(_("division by zero")) from None
        except (TypeError, ValueError, KeyError, IndexError):
            raise ExpressionError(
                _("cannot evaluate %(text)s: a value is not of the kind it needs", text=self.text)
            ) from None
        except (ArithmeticError, RecursionError, MemoryError):
            raise ExpressionError(
                _("cannot evaluate %(text)s: the result is out of range", text=self.text)
            ) from None
        except simpleeval.InvalidExpression as exc:
            raise ExpressionError(
                _("cannot evaluate %(text)s: %(error)s", text=self.text, error=exc)
            ) from None
        finally:
            evaluator.functions = evaluator.names = None  # keep no values alive meanwhile
            _spare.evaluators.append(evaluator)


#: Evaluators of this thread not in use. Building one costs more than most evaluations (its
#: dispatch table, a warnings filter), and a document of hundreds of lines evaluates thousands of
#: expressions; one in use is never shared (a ``lookup`` may evaluate a link filter meanwhile).
_spare = threading.local()


def _take_evaluator() -> simpleeval.EvalWithCompoundTypes:
    spare = getattr(_spare, "evaluators", None)
    if spare is None:
        spare = _spare.evaluators = []
    if spare:
        return spare.pop()
    # The compound-types evaluator only so that tuple and list literals (``kind in ('a', 'b')``)
    # evaluate: ``compile_expression`` has already refused dicts, sets and comprehensions.
    return simpleeval.EvalWithCompoundTypes(operators=OPERATORS)


def compile_expression(text: str, names: Iterable[str]) -> Expression:
    """Parse and check ``text``; every name must be in ``names`` or be a function/constant.

    An expression compiled once for the same names is the same again: every worker's reload
    after a publish, and each preview, compiles all of them (hundreds) anew."""
    if not isinstance(text, str):
        raise ExpressionError(_("the expression is empty"))
    if type(names) not in (set, frozenset, list, tuple):  # e.g. a set that takes any name
        return _compile(text, names)
    return _compiled(text, frozenset(names))


@functools.lru_cache(maxsize=8192)
def _compiled(text: str, known: frozenset[str]) -> Expression:
    return _compile(text, known)


def _compile(text: str, known) -> Expression:
    if not text.strip():
        raise ExpressionError(_("the expression is empty"))
    if len(text) > MAX_LENGTH:
        raise ExpressionError(_("the expression is longer than %(max)s characters", max=MAX_LENGTH))
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        # Python's own words ("'(' was never closed") are English: where it went wrong is not
        raise ExpressionError(_(
            "syntax error at character %(at)s: check the brackets, quotes and operators there",
            at=exc.offset or 1,
        )) from None  # fmt: skip
    except (RecursionError, MemoryError, ValueError):
        raise ExpressionError(_("the expression is nested too deeply")) from None
    used: set[str] = set()
    count = 0

    def visit(node: ast.AST, depth: int) -> None:
        nonlocal count
        count += 1
        if count > MAX_NODES:
            raise ExpressionError(_("the expression is too complex"))
        if depth > MAX_DEPTH:
            raise ExpressionError(_("the expression is nested too deeply"))
        if isinstance(node, ast.Attribute):
            raise ExpressionError(
                _("attribute access ('.%(name)s') is not allowed", name=node.attr)
            )
        if isinstance(node, ast.Subscript):
            raise ExpressionError(_("indexing ('[...]') is not allowed"))
        if not isinstance(node, ALLOWED_NODES):
            raise ExpressionError(
                _("'%(construct)s' is not allowed in an expression", construct=_written(node))
            )
        if isinstance(node, ast.Name) and node.id.startswith("_"):
            raise ExpressionError(_("the name '%(name)s' is not allowed", name=node.id))
        if isinstance(node, ast.Constant):
            _check_constant(node)
        if isinstance(node, ast.Call):
            _check_call(node)
            for arg in node.args:
                visit(arg, depth + 1)
            return
        if isinstance(node, ast.Name) and node.id not in CONSTANTS:
            if node.id in FUNCTIONS and node.id not in known:
                raise ExpressionError(_("'%(name)s' is a function: call it with ()", name=node.id))
            if node.id not in known:
                raise ExpressionError(_("unknown name '%(name)s'", name=node.id))
            used.add(node.id)
        for child in ast.iter_child_nodes(node):
            visit(child, depth + 1)

    visit(tree, 0)
    _decimal_literals(tree)
    _lookup_by_name(tree)
    return Expression(text.strip(), tree, frozenset(used))


#: How a refused construct is written, for the message (Python's name of it says nothing to an
#: admin: ``RShift`` is ``>>``).
WRITTEN = {
    "RShift": ">>", "LShift": "<<", "BitOr": "|", "BitAnd": "&", "BitXor": "^", "Invert": "~",
    "MatMult": "@", "Pow": "**", "FloorDiv": "//", "Lambda": "lambda", "Dict": "{…: …}",
    "Set": "{…}", "ListComp": "[… for …]", "SetComp": "{… for …}", "DictComp": "{…: … for …}",
    "GeneratorExp": "(… for …)", "Starred": "*…", "NamedExpr": ":=", "JoinedStr": "f'…'",
    "Slice": "[…:…]", "Await": "await", "Yield": "yield", "YieldFrom": "yield from",
}  # fmt: skip


def _written(node: ast.AST) -> str:
    return WRITTEN.get(type(node).__name__, type(node).__name__)


def _check_constant(node: ast.Constant) -> None:
    value = node.value
    if isinstance(value, str) and len(value) > MAX_STRING:
        raise ExpressionError(_("value too long"))
    if isinstance(value, bytes | complex) or value is Ellipsis:
        raise ExpressionError(_("this kind of constant is not allowed"))


def _check_call(node: ast.Call) -> None:
    if not isinstance(node.func, ast.Name):
        raise ExpressionError(_("only the listed functions may be called, by name"))
    name = node.func.id
    if name.startswith("_"):
        raise ExpressionError(_("the name '%(name)s' is not allowed", name=name))
    if name not in FUNCTIONS:
        raise ExpressionError(
            _(
                "unknown function '%(name)s'; expected one of: %(functions)s",
                name=name,
                functions=", ".join(sorted(FUNCTIONS)),
            )
        )
    if node.keywords:
        raise ExpressionError(_("keyword arguments are not allowed"))
    if name == "lookup" and (
        len(node.args) != 2
        or not isinstance(node.args[0], ast.Name)
        or not isinstance(node.args[1], ast.Constant)
    ):
        raise ExpressionError(_("use lookup(link_field, 'field')"))
    if name == "this" and (
        len(node.args) != 1
        or not isinstance(node.args[0], ast.Constant)
        or not isinstance(node.args[0].value, str)
    ):
        raise ExpressionError(_("use this('field')"))
    if name == "price" and not (
        1 <= len(node.args) <= 4
        and (
            len(node.args) < 4
            or (isinstance(node.args[3], ast.Constant) and node.args[3].value in PRICE_KINDS)
        )
    ):
        raise ExpressionError(_("use price(item, location, date, 'retail' or 'wholesale')"))


@functools.lru_cache(maxsize=4096)
def yields_boolean(text: str) -> bool:
    """Whether an expression always gives true or false — a comparison, ``not``, ``and``/``or``
    of such, a conditional between such (or nothing) — so that a formula like ``climate_ok``
    shows as yes/no on pages and in reports, not as 1/0. (``a or b`` of numbers gives a number:
    not boolean.)"""
    try:
        return _boolean(ast.parse(text.strip(), mode="eval").body)
    except (SyntaxError, RecursionError, MemoryError, ValueError):
        return False


def _boolean(node: ast.AST) -> bool:
    if isinstance(node, ast.Compare) or (
        isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)
    ):
        return True
    if isinstance(node, ast.BoolOp):
        return all(_boolean(value) for value in node.values)
    if isinstance(node, ast.IfExp):  # (one side may be nothing: not known yet)
        sides = [side for side in (node.body, node.orelse) if not _nothing(side)]
        return bool(sides) and all(_boolean(side) for side in sides)
    if isinstance(node, ast.Constant):
        return isinstance(node.value, bool)
    return isinstance(node, ast.Name) and node.id in ("true", "false", "True", "False")


def _nothing(node: ast.AST) -> bool:
    return (isinstance(node, ast.Constant) and node.value is None) or (
        isinstance(node, ast.Name) and node.id in ("None", "null")
    )


def this_names(expression: Expression | None) -> frozenset[str]:
    """The referring record's fields a link filter reads with ``this('field')``."""
    return expression.this_fields if expression is not None else frozenset()


def _decimal_literals(tree: ast.AST) -> None:
    """Turn float literals into exact ``Decimal`` ones (``0.1`` means one tenth, exactly)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, float):
            node.value = Decimal(repr(node.value))


def _lookup_by_name(tree: ast.AST) -> None:
    """``lookup(supplier, 'x')`` passes the NAME of the link field, so the target is known."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "lookup":
            node.args[0] = ast.Constant(value=node.args[0].id)


def lookups(expression: Expression) -> list[tuple[str, str]]:
    """The ``(link field, field)`` pairs of ``lookup(link, 'field')`` calls, for load-time
    checks: a misspelt field would read nothing, every time, and switch its rule off unseen."""
    return [
        (node.args[0].value, str(node.args[1].value))
        for node in ast.walk(expression.tree)
        if isinstance(node, ast.Call)
        and getattr(node.func, "id", None) == "lookup"
        and len(node.args) == 2
        and all(isinstance(arg, ast.Constant) for arg in node.args)
    ]


def compared_with_text(expression: Expression) -> list[tuple[str, str]]:
    """The ``(field, text)`` pairs where a field is compared with a text literal
    (``total > '20,000'``), for load-time checks against the field's type: comparing a number
    with a text fails on every record, and a published rule would stop every transition it
    guards."""
    found = []
    for node in ast.walk(expression.tree):
        if not isinstance(node, ast.Compare):
            continue
        operands = [node.left, *node.comparators]
        for left, right in itertools.pairwise(operands):
            for name, other in ((left, right), (right, left)):
                if (
                    isinstance(name, ast.Name)
                    and isinstance(other, ast.Constant)
                    and isinstance(other.value, str)
                ):
                    found.append((name.id, other.value))
    return found


def table_aggregates(expression: Expression) -> list[tuple[str, str]]:
    """The ``(table, field)`` pairs of ``sum(table, 'field')`` calls, for load-time checks."""
    found = []
    for node in ast.walk(expression.tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "sum"
            and len(node.args) in (2, 4)
            and isinstance(node.args[0], ast.Name)
            and isinstance(node.args[1], ast.Constant)
        ):
            found.append((node.args[0].id, str(node.args[1].value)))
    return found
