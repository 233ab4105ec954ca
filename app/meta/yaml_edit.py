"""Change a metadata text the way a visual designer asks, keeping how the admin wrote it.

The designers (forms, workflows, reports, roles, option lists) never show YAML, yet the YAML
stays the one source of truth: each change is applied to the text being edited and handed back,
so the preview, the checks, drafts, publish and the version diff work exactly as for a typed
change. ruamel.yaml's round trip keeps
the comments, the key order, the quoting and the flow style of everything a change does not
touch; what it lays out differently (a flow mapping the admin wrapped over two lines comes back on
one) is put back as written (``_keep_wrapped``), so the diff shows the change and nothing else.
"""

from __future__ import annotations

import difflib
import io
import json
import re
import textwrap
from decimal import Decimal

import yaml
from ruamel.yaml import YAML, CommentedMap, CommentedSeq
from ruamel.yaml.error import YAMLError

from app.i18n import _
from app.meta.yamlsource import SafeLoader


class DesignRefused(ValueError):
    """A change a designer cannot make; ``field`` is the input it concerns, when there is one."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def _yaml(width: int = 4096) -> YAML:
    """ruamel's round trip, indented as the shipped metadata is; by default never folding a long
    label or expression (a changed flow list may want ``width`` to wrap)."""
    round_trip = YAML()
    round_trip.preserve_quotes = True
    round_trip.width = width
    round_trip.indent(mapping=2, sequence=4, offset=2)
    return round_trip


def parse(text: str, not_a_mapping: str) -> CommentedMap:
    """The document of ``text``, a mapping; refused with ``not_a_mapping`` when it is not."""
    try:
        document = _yaml().load(text)
    except YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        raise DesignRefused(
            _("The YAML does not parse at line %(line)s: %(problem)s",
              line=mark.line + 1 if mark else 1, problem=getattr(error, "problem", None) or error)
        ) from error  # fmt: skip
    if not isinstance(document, CommentedMap):
        raise DesignRefused(not_a_mapping)
    return document


def dump(document: CommentedMap, original: str, width: int = 4096) -> str:
    """The changed document as text, laid out as ``original`` wherever it did not change."""
    out = io.StringIO()
    _yaml(width).dump(document, out)
    return _keep_wrapped(original, out.getvalue())


def _keep_wrapped(original: str, dumped: str) -> str:
    """``dumped`` with each of its lines that says what a line of ``original`` said (same indent,
    same data: wrapped over several lines, or written in another flow style) put back as the
    original lines. The result must read as ``dumped`` does; ``dumped`` is returned if not."""
    before, after = _logical_lines(original), _logical_lines(dumped)
    said, says = [_meaning(line) for line in before], [_meaning(line) for line in after]
    matcher = difflib.SequenceMatcher(None, said, says, autojunk=False)
    kept = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        # ruamel leaves a space at the end of a flow list it folds: not kept either
        kept.extend(before[i1:i2] if tag == "equal" else map(_unpadded, after[j1:j2]))
    result = "".join(kept)
    return result if safe_load(result) == safe_load(dumped) else dumped


def _unpadded(lines: str) -> str:
    return "\n".join(line.rstrip(" ") for line in lines.split("\n"))


def _logical_lines(text: str) -> list[str]:
    """The text's lines, a flow mapping or list left open at a line's end joined with the lines
    that close it (a few at most)."""
    lines, open_line, depth = [], [], 0
    for line in text.splitlines(keepends=True):
        open_line.append(line)
        depth += line.count("{") + line.count("[") - line.count("}") - line.count("]")
        if depth <= 0 or len(open_line) >= 8:
            lines.append("".join(open_line))
            open_line, depth = [], 0
    return lines + ["".join(open_line)] if open_line else lines


def _meaning(line: str) -> tuple[int, str]:
    """What a logical line says, for matching: its indent and the data it holds when it reads
    alone (``[{a: b}]`` and ``[a: b]`` say the same), else its words."""
    indent = len(line) - len(line.lstrip(" "))
    try:
        data = yaml.load(textwrap.dedent(line), Loader=SafeLoader)
    except yaml.YAMLError:
        data = None
    if data is None:
        return indent, " ".join(line.split())
    return indent, json.dumps(data, sort_keys=True, default=str, ensure_ascii=False)


def safe_load(text: str):
    return yaml.load(text, Loader=SafeLoader)


def plain(value):
    """ruamel's round-trip containers and scalars as plain ones (for comparing and dumping)."""
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    for kind in (bool, str, int, float):  # ruamel's quoted strings, scalar ints and floats
        if isinstance(value, kind):
            return kind(value)
    return value


def one_line(value) -> str:
    """``value`` as one line of YAML (``{finding: normal}``, ``[a, b]``, ``accepted``, ``null``):
    what a designer shows in a box for a value of any shape."""
    dumped = yaml.safe_dump(plain(value), default_flow_style=True, allow_unicode=True,
                            width=1 << 20, sort_keys=False)  # fmt: skip
    return dumped.removesuffix("\n").removesuffix("\n...").strip()


def one_line_value(text: str, unread: str, field: str):
    """The value a box's one line of YAML says, written on one line as the shipped metadata
    writes it; refused with ``unread`` on ``field`` when it does not read."""
    try:
        value = safe_load(text)
    except yaml.YAMLError:
        raise DesignRefused(unread, field) from None
    return _flowed(value)


def _flowed(value):
    if isinstance(value, dict):
        return flow(CommentedMap((key, _flowed(item)) for key, item in value.items()))
    if isinstance(value, list):
        return flow_seq(_flowed(item) for item in value)
    return value


def drop(raw: CommentedMap, key: str) -> None:
    """Remove ``key``; the comment lines after it, which introduce what follows the field (ruamel
    keeps them with the last key above), stay with the key that is last now."""
    if key not in raw:
        return
    comments = raw.ca.items.pop(key, None)
    last = list(raw)[-1] == key
    del raw[key]
    if last and raw and comments and comments[2] is not None:
        raw.ca.items.setdefault(list(raw)[-1], [None, None, None, None])[2] = comments[2]


def set_or_drop(raw: CommentedMap, key: str, value, order: tuple[str, ...] = ()) -> None:
    """Set ``key`` to ``value``, or drop it when ``value`` is None. A new key goes after the last
    key that comes before it in ``order`` (else at the end), so that it reads where people look
    for it; an unchanged value is left as written."""
    if value is None:
        drop(raw, key)
    elif key in raw:
        if raw[key] != value:
            raw[key] = value
    else:
        rank = order.index(key) if key in order else len(order)
        before = [
            position
            for position, existing in enumerate(raw)
            if existing in order and order.index(existing) < rank
        ]
        raw.insert(before[-1] + 1 if before else len(raw), key, value)


def flow_label(zh: str, en: str) -> CommentedMap:
    return flow(CommentedMap(zh_CN=zh, en=en))


def set_label(
    raw: CommentedMap, key: str, zh: str, en: str, fallback: str | None, order=()
) -> None:
    """Both languages of a label (``zh_CN``, ``en``): one given is used for the other; with
    neither, ``fallback`` is used, or the key is dropped when it is None (an optional help)."""
    zh, en = zh.strip(), en.strip()
    if not zh and not en:
        if fallback is None:
            drop(raw, key)
            return
        zh = en = fallback
    zh, en = zh or en, en or zh
    current = raw.get(key)
    if isinstance(current, CommentedMap):
        set_or_drop(current, "zh_CN", zh)
        set_or_drop(current, "en", en)
    else:
        set_or_drop(raw, key, flow_label(zh, en), order)


def label_of(raw) -> tuple[str, str]:
    """The Chinese and English text of ``raw``'s label ("" for what is missing)."""
    label = raw.get("label") if isinstance(raw, dict) else None
    if isinstance(label, dict):
        return str(label.get("zh_CN", "")), str(label.get("en", ""))
    return ("" if label is None else str(label)), ""


def flow(collection):
    """``collection`` written on one line, ``{…}`` or ``[…]``, as the shipped metadata writes
    labels, lists of names and one-line entries."""
    collection.fa.set_flow_style()
    return collection


def flow_seq(items) -> CommentedSeq:
    return flow(CommentedSeq(items))


def at(items: CommentedSeq, position: str, stale: str) -> int:
    """The index ``position`` (digits) names in ``items``, which must hold a mapping there;
    refused with ``stale`` when the text changed under the designer and it no longer does."""
    if (
        not position.isdigit()
        or int(position) >= len(items)
        or not isinstance(items[int(position)], CommentedMap)
    ):
        raise DesignRefused(stale)
    return int(position)


def moved(document: CommentedMap, items: CommentedSeq, index: int, step: int, text: str) -> str:
    """``text`` with the entry at ``index`` of ``items`` moved ``step`` places (unchanged when it
    is already first or last)."""
    if not 0 <= index + step < len(items):
        return text
    items.insert(index + step, items.pop(index))
    return dump(document, text)


def removed(document: CommentedMap, items: CommentedSeq, index: int, text: str, last: str) -> str:
    """``text`` without the entry at ``index`` of ``items``; refused with ``last`` when it is the
    only one."""
    if len(items) == 1:
        raise DesignRefused(last)
    del items[index]
    return dump(document, text)


#: A name in metadata: a field, state, transition, role, column, menu.
IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
#: A number as an admin types it in a designer's box: ``8``, ``-2.5``.
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


def number(value: str, refusal: str, field: str):
    """A number as typed in a box, for YAML to read back exactly: a whole one as an integer, a
    fraction as a YAML number when it reads back as the same decimal (``2.5``, ``0.1``), as text
    otherwise; None when the box is empty; refused with ``refusal`` on ``field`` when it is not
    a number."""
    value = value.strip()
    if not value:
        return None
    if not NUMBER.match(value):
        raise DesignRefused(refusal, field)
    if "." not in value:
        return int(value)
    as_float = float(value)
    return as_float if Decimal(repr(as_float)) == Decimal(value) else value


def switched(document: CommentedMap, key: str, values, order: tuple[str, ...]):
    """The mapping under ``key`` to fill in when the designer's ``on`` switch is ticked (a new
    one when there is none yet, put in by the caller); None, the key dropped, when it is not."""
    if not values.get("on"):
        set_or_drop(document, key, None, order)
        return None
    current = document.get(key)
    return current if isinstance(current, CommentedMap) else CommentedMap()


def ticked(before, chosen: list[str], offered) -> CommentedSeq | None:
    """The names ``chosen`` (ticked boxes) among those ``offered``: in the order ``before``
    wrote them, new ones after them in the order offered; ``before`` itself (its anchor, its
    style) when the ticks did not change it; None for none."""
    written = [str(name) for name in before or []]
    kept = [name for name in written if name in chosen]
    added = [name for name in offered if name in chosen and name not in written]
    if kept == written and not added:
        return before or None
    return flow_seq(kept + added) if kept or added else None


def mapping_of(raw, key: str) -> dict:
    """The mapping under ``key`` of ``raw``; empty when there is none or it is not a mapping
    (the text being edited may say anything: the designer draws what it can read)."""
    value = raw.get(key)
    return value if isinstance(value, dict) else {}


def names_of(raw, key: str) -> list[str]:
    """The names listed under ``key`` of ``raw`` (roles, states, fields), as text."""
    return [str(name) for name in raw.get(key) or []]


def text_of(value) -> str:
    """A scalar as the designer shows it in a box ("" for none)."""
    return "" if value is None or value is False else str(value).strip()


def names_in(items: CommentedSeq, but: int | None = None) -> set[str]:
    """The ``name`` of each entry of ``items`` (but the one at index ``but``)."""
    return {
        str(raw.get("name"))
        for index, raw in enumerate(items)
        if index != but and isinstance(raw, dict)
    }


def new_name(name: str, taken, bad: str | None = None, in_use=None) -> str:
    """``name`` stripped, once it is a name (refused with ``bad``) that ``taken`` does not hold
    (refused with ``in_use(name)``); both refusals are on the "name" input."""
    name = name.strip()
    if not IDENTIFIER.match(name):
        raise DesignRefused(
            bad or _("A name is lower_snake_case: a letter, then letters, digits and _."), "name"
        )
    if name in taken:
        message = in_use(name) if in_use else _("The name %(name)s is taken.", name=name)
        raise DesignRefused(message, "name")
    return name


#: What the designers write of a check (a field's ``validate``, a state's ``submit_rules``).
CHECK_KEYS = ("expr", "field", "message")


def checks_of(raw, key: str) -> list[tuple[str, str, str, str]] | None:
    """Each check under ``key`` as (condition, field its message shows on, message in Chinese,
    in English); None when one says more than that (the checks are then the YAML's)."""
    checks = [check for check in raw.get(key) or [] if isinstance(check, dict)]
    if any(part not in CHECK_KEYS for check in checks for part in check):
        return None
    return [
        (text_of(check.get("expr")), text_of(check.get("field")),
         *label_of({"label": check.get("message")}))
        for check in checks
    ]  # fmt: skip


def set_checks(raw: CommentedMap, key: str, values, order, unsaid: str) -> None:
    """The checks under ``key`` from the designer's rows (``rule_expr``, ``rule_field`` when the
    kind has one, ``rule_zh``, ``rule_en``); a row whose condition is cleared goes, a row without
    a message is refused with ``unsaid``; checks that did not change stay as written."""
    conditions = values.getlist("rule_expr")
    fields = values.getlist("rule_field") or [""] * len(conditions)
    rows = zip(conditions, fields, values.getlist("rule_zh"), values.getlist("rule_en"),
               strict=True)  # fmt: skip
    checks = [tuple(part.strip() for part in row) for row in rows if row[0].strip()]
    if any(not zh and not en for _expr, _field, zh, en in checks):
        raise DesignRefused(unsaid, key)
    if any(name and not IDENTIFIER.match(name) for _expr, name, _zh, _en in checks):
        raise DesignRefused(_("Name the field the message is shown on, or leave it empty."), key)
    if [(e, f, z or n, n or z) for e, f, z, n in checks] == checks_of(raw, key):
        return
    written = CommentedSeq()
    for expr, name, zh, en in checks:
        check = CommentedMap(expr=expr)
        if name:
            check["field"] = name
        check["message"] = flow_label(zh or en, en or zh)
        written.append(check)
    if written and raw.fa.flow_style():  # an entry written on one line opens up for its checks
        raw.fa.set_block_style()
    set_or_drop(raw, key, written or None, order)
