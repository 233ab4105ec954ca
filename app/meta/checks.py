"""Cross-reference checks: what a JSON Schema cannot see because it spans fields or files."""

from __future__ import annotations

import re

from app.i18n import _
from app.meta import accounts
from app.meta.expressions import (
    ExpressionError,
    compared_with_text,
    compile_expression,
    lookups,
    table_aggregates,
    this_names,
)
from app.meta.loader import MASTER_ENTITIES, Metadata, cross_check
from app.meta.yamlsource import MetadataIssue, SourceDocument


def _walk_fields(fields: list[dict], path: tuple):
    """Yield (field, path, sibling names) for each field, descending into table fields."""
    for index, field in enumerate(fields):
        yield field, (*path, index)
        if field.get("type") == "table":
            yield from _walk_fields(field.get("fields", []), (*path, index, "fields"))


@cross_check
def check_forms(metadata: Metadata, issues: list[MetadataIssue]) -> None:
    link_targets = set(MASTER_ENTITIES) | set(metadata.forms) | metadata.broken_forms
    for name, document in metadata.forms.items():
        form = document.data
        expected_file = f"forms/{name}.yaml"
        if document.file not in (expected_file, f"forms/{name}.json"):
            issues.append(
                document.issue(
                    ("name",),
                    _("the form '%(name)s' must live in %(file)s", name=name, file=expected_file),
                )
            )
        if name in MASTER_ENTITIES:
            issues.append(document.issue(("name",), _reserved_name(name)))
        _check_field_names(document, form["fields"], ("fields",), issues)
        for field, path in _walk_fields(form["fields"], ("fields",)):
            link = field.get("link")
            if link and link not in link_targets:
                issues.append(
                    document.issue(
                        (*path, "link"),
                        _(
                            "unknown link target '%(link)s'; "
                            "expected a form or one of: %(entities)s",
                            link=link,
                            entities=", ".join(MASTER_ENTITIES),
                        ),
                    )
                )
        _check_form_references(document, issues)


def _reserved_name(name: str) -> str:
    """A form may not take a built-in record's name: links to it would be ambiguous."""
    return _(
        "the name '%(name)s' is taken by a built-in record (%(entities)s); choose another",
        name=name,
        entities=", ".join(MASTER_ENTITIES),
    )


def _check_field_names(document: SourceDocument, fields: list, path: tuple, issues: list) -> None:
    seen: dict[str, int] = {}
    for index, field in enumerate(fields):
        name = field["name"]
        if name in seen:
            issues.append(
                document.issue(
                    (*path, index, "name"),
                    _(
                        "duplicate field name '%(name)s' (first at line %(line)s)",
                        name=name,
                        line=document.line_of((*path, seen[name], "name")),
                    ),
                )
            )
        else:
            seen[name] = index
        if field.get("type") == "table":
            _check_field_names(document, field["fields"], (*path, index, "fields"), issues)


def _check_form_references(document: SourceDocument, issues: list) -> None:
    form = document.data
    top = {field["name"]: field for field in form["fields"]}
    known = set(top) | set(RECORD_COLUMNS)

    def need(path: tuple, name: str) -> None:
        if name not in known:
            issues.append(document.issue(path, _("unknown field '%(name)s'", name=name)))

    for index, column in enumerate(form.get("list", {}).get("columns", [])):
        need(("list", "columns", index), column)
    if "sort" in form.get("list", {}):
        need(("list", "sort"), form["list"]["sort"].lstrip("-"))
    for index, name in enumerate(form.get("search", [])):
        need(("search", index), name)
    for s_index, section in enumerate(form.get("sections", [])):
        for f_index, name in enumerate(section["fields"]):
            need(("sections", s_index, "fields", f_index), name)
    if "title_field" in form:
        need(("title_field",), form["title_field"])
    location_field = form.get("location_field")
    if location_field:
        field = top.get(location_field)
        if field is None or field.get("type") != "link" or field.get("link") != "location":
            issues.append(
                document.issue(
                    ("location_field",),
                    _("'%(name)s' must be a link field to location", name=location_field),
                )
            )
    period_date = form.get("period_date")
    if period_date and top.get(period_date, {}).get("type") != "date":
        issues.append(
            document.issue(("period_date",), _("'%(name)s' must be a date field", name=period_date))
        )
    if "by" in form.get("allocation", {}):
        need(("allocation", "by"), form["allocation"]["by"])
    for field, path in _walk_fields(form["fields"], ("fields",)):
        siblings = _siblings(form["fields"], path)
        for part, target in field.get("fills", {}).items():
            if target not in siblings:
                issues.append(
                    document.issue(
                        (*path, "fills", part), _("unknown field '%(name)s'", name=target)
                    )
                )
        counted_by = field.get("whole_units_of")
        if counted_by is not None:
            link = siblings.get(counted_by)
            if link is None or link.get("type") != "link" or link.get("link") != "item":
                issues.append(
                    document.issue(
                        (*path, "whole_units_of"),
                        _("'%(name)s' must be a link field to item beside this one",
                          name=counted_by),
                    )
                )  # fmt: skip


@cross_check
def check_accounts(metadata: Metadata, issues: list[MetadataIssue]) -> None:
    """A form's ``account`` names real fields of the right kinds and real states, and the
    parties of one kind of account are records of one form (customers, or suppliers)."""
    parties: dict[str, set[str]] = {}
    for name, document in metadata.forms.items():
        account = document.data.get("account")
        if account is None:
            continue
        top = {field["name"]: field for field in document.data["fields"]}
        party = top.get(account["party"]) or {}
        target = party.get("link") if party.get("type") == "link" else None
        if target in metadata.forms:
            parties.setdefault(account["kind"], set()).add(target)
        elif target not in metadata.broken_forms:  # a broken form has its own issue already
            issues.append(document.issue(("account", "party"), _(
                "'%(name)s' must be a link field to a form", name=account["party"])))  # fmt: skip
        for key, types in accounts.FIELD_TYPES.items():
            if key not in account:  # (a due date is optional)
                continue
            field = top.get(account[key])
            if field is None or field["type"] not in types:
                issues.append(document.issue(("account", key), _(
                    "'%(name)s' must be a field of type %(types)s", name=account[key],
                    types=" / ".join(types))))  # fmt: skip
        for field in account.get("when", {}):
            if field not in top:
                unknown = _("unknown field '%(name)s'", name=field)
                issues.append(document.issue(("account", "when", field), unknown))
        workflow = metadata.workflows.get(name)
        states = set(workflow.data["states"]) if workflow else set()
        for index, state in enumerate(account["states"]):
            if state not in states:
                unknown = _("unknown state '%(name)s'", name=state)
                issues.append(document.issue(("account", "states", index), unknown))
    for kind, targets in parties.items():
        if len(targets) > 1:
            for document in metadata.forms.values():
                if document.data.get("account", {}).get("kind") == kind:
                    issues.append(document.issue(("account", "party"), _(
                        "the parties of %(kind)s accounts must all be records of one form, not "
                        "%(forms)s", kind=kind, forms=", ".join(sorted(targets)))))  # fmt: skip


def _siblings(fields: list, path: tuple) -> dict[str, dict]:
    """The fields at the same level as the field at ``path``, by name."""
    level = fields
    for step in range(1, len(path) - 1, 2):
        level = level[path[step]]["fields"]
    return {field["name"]: field for field in level}


@cross_check
def check_workflows(metadata: Metadata, issues: list[MetadataIssue]) -> None:
    for form, document in metadata.workflows.items():
        workflow = document.data
        if form not in metadata.forms and form not in metadata.broken_forms:
            issues.append(document.issue(("form",), _("unknown form '%(name)s'", name=form)))
        states = set(workflow["states"])
        if workflow["initial"] not in states:
            issues.append(
                document.issue(
                    ("initial",), _("unknown state '%(name)s'", name=workflow["initial"])
                )
            )
        names: set[str] = set()
        for index, transition in enumerate(workflow["transitions"]):
            path = ("transitions", index)
            if transition["name"] in names:
                issues.append(
                    document.issue(
                        (*path, "name"),
                        _("duplicate transition '%(name)s'", name=transition["name"]),
                    )
                )
            names.add(transition["name"])
            sources = transition["from"]
            sources = [sources] if isinstance(sources, str) else sources
            for s_index, state in enumerate(sources):
                if state not in states:
                    where = (
                        (*path, "from")
                        if isinstance(transition["from"], str)
                        else (*path, "from", s_index)
                    )
                    issues.append(document.issue(where, _("unknown state '%(name)s'", name=state)))
            if transition["to"] not in states:
                issues.append(
                    document.issue(
                        (*path, "to"), _("unknown state '%(name)s'", name=transition["to"])
                    )
                )
            issues.extend(unknown_roles(metadata, document, path, transition.get("roles")))


def unknown_roles(metadata: Metadata, document, path: tuple, roles) -> list[MetadataIssue]:
    """The roles of ``roles`` (at ``path``.roles) that roles.yaml does not define: a transition's,
    an approval level's approvers', an action's (``notify``). One misspelt finds nobody, and a
    record would wait for an approver who cannot be."""
    if metadata.roles_document is None or not isinstance(roles, list):
        return []
    return [
        document.issue((*path, "roles", index), _("unknown role '%(name)s'", name=role))
        for index, role in enumerate(roles)
        if role not in metadata.roles
    ]


#: What a record list may show and sort by besides the form's own fields.
RECORD_COLUMNS = ("number", "state", "created_at", "updated_at", "created_by")
#: Names every form has besides its fields (system columns of a record).
SYSTEM_NAMES = (*RECORD_COLUMNS, "id")
#: Keys of a field definition that hold an expression.
EXPRESSION_KEYS = ("formula", "default_expr", "visible_if", "required_if")


def link_names(metadata: Metadata, target: str) -> set[str] | None:
    """The names a ``link_filter`` may use: the fields (or columns) of the linked target;
    ``None`` when the target is a kernel table not registered yet (checked at runtime)."""
    from app.meta.links import LINK_TARGETS  # links imports the models; keep loading light

    if target in metadata.forms:
        return {f["name"] for f in metadata.forms[target].data["fields"]} | set(SYSTEM_NAMES)
    if target in LINK_TARGETS:
        return {column.key for column in LINK_TARGETS[target].model.__table__.columns}
    return None


def lookup_names(metadata: Metadata, target: str) -> set[str] | None:
    """What ``lookup(link, 'field')`` may read of a ``target``: a form's fields, or a kernel
    entity's columns and the fields of its card form (an item's card: its retail price);
    ``None`` when not known at load time."""
    names = link_names(metadata, target)
    if names is None:
        return None
    for document in metadata.forms.values():
        if (document.data.get("card_of") or {}).get("target") == target:
            names |= {field["name"] for field in document.data["fields"]}
    return names


#: Field types an expression may not compare with a text literal.
_NOT_TEXT = {**dict.fromkeys(("integer", "decimal", "money", "percent"), "number"),
             **dict.fromkeys(("date", "expiry_date", "datetime"), "date")}  # fmt: skip


def typed_issues(metadata: Metadata, fields: dict[str, dict], expression) -> list[str]:
    """What the expression gets wrong about the fields it reads (``fields``: name → its
    definition): a ``lookup`` of a field its target lacks, a number or date compared with a
    text. Both compile and fail (or read nothing) on every record."""
    found = []
    for link, name in lookups(expression):
        target = (fields.get(link) or {}).get("link")
        known = lookup_names(metadata, target) if target else None
        if known is not None and name not in known:
            found.append(
                _("lookup(%(link)s, '%(name)s'): %(target)s has no field '%(name)s'",
                  link=link, name=name, target=target)
            )  # fmt: skip
    for name, text in compared_with_text(expression):
        kind = _NOT_TEXT.get((fields.get(name) or {}).get("type"))
        if kind == "number":
            found.append(
                _("'%(name)s' is a number: compare it with a number, not the text '%(text)s' "
                  "(no quotes, no thousands separators)", name=name, text=text)
            )  # fmt: skip
        elif kind == "date":
            found.append(
                _("'%(name)s' is a date: compare it with a date (today(), days(n), a date "
                  "field), not the text '%(text)s'", name=name, text=text)
            )  # fmt: skip
    return found


def expression_names(form: dict, path: tuple) -> set[str]:
    """The names an expression of the field at ``path`` may use: the record's fields and system
    names, plus the line's own fields when the field sits inside a table."""
    names = {field["name"] for field in form["fields"]} | set(SYSTEM_NAMES)
    if len(path) > 2:  # ("fields", i, "fields", j)
        names |= {field["name"] for field in form["fields"][path[1]].get("fields", [])}
    return names


@cross_check
def check_expressions(metadata: Metadata, issues: list[MetadataIssue]) -> None:
    """Compile every expression at load time so a typo is an error naming file, line and path."""
    for document in metadata.forms.values():
        form = document.data
        tables = {
            field["name"]: {line["name"] for line in field["fields"]}
            for field in form["fields"]
            if field.get("type") == "table"
        }
        for field, path in _walk_fields(form["fields"], ("fields",)):
            names = expression_names(form, path)
            sources = [((*path, key), field[key]) for key in EXPRESSION_KEYS if key in field]
            if "link_filter" in field and field.get("link"):
                target_names = link_names(metadata, field["link"])
                if target_names is not None:
                    try:
                        condition = compile_expression(field["link_filter"], target_names)
                    except ExpressionError as exc:
                        issues.append(document.issue((*path, "link_filter"), str(exc)))
                    else:
                        header = {f["name"] for f in form["fields"]} | set(SYSTEM_NAMES)
                        for name in sorted(this_names(condition) - header):
                            issues.append(
                                document.issue(
                                    (*path, "link_filter"),
                                    _("this('%(name)s'): the form has no such field", name=name),
                                )
                            )
            sources += [
                ((*path, "validate", index, "expr"), rule["expr"])
                for index, rule in enumerate(field.get("validate", []))
            ]
            readable = {f["name"]: f for f in form["fields"]}
            if len(path) > 2:  # a line's field reads its line's fields too
                readable |= {f["name"]: f for f in form["fields"][path[1]].get("fields", [])}
            for where, text in sources:
                try:
                    expression = compile_expression(text, names)
                except ExpressionError as exc:
                    issues.append(document.issue(where, str(exc)))
                    continue
                for problem in typed_issues(metadata, readable, expression):
                    issues.append(document.issue(where, problem))
                if this_names(expression):
                    issues.append(
                        document.issue(where, _("this('field') belongs in a link_filter only"))
                    )
                for table, column in table_aggregates(expression):
                    if table in tables and column not in tables[table]:
                        issues.append(
                            document.issue(
                                where,
                                _(
                                    "unknown field '%(name)s' in table '%(table)s'",
                                    name=column,
                                    table=table,
                                ),
                            )
                        )
            if "pattern" in field:
                try:
                    re.compile(field["pattern"])
                except re.error as exc:
                    issues.append(
                        document.issue(
                            (*path, "pattern"), _("invalid pattern: %(error)s", error=str(exc))
                        )
                    )


@cross_check
def check_formula_circles(metadata: Metadata, issues: list[MetadataIssue]) -> None:
    """Formulas are computed each after those it reads; ones that read each other round in a
    circle have no order and would be saved empty: refused, naming the circle."""
    for document in metadata.forms.values():
        form = document.data
        levels = [(form["fields"], ("fields",))] + [
            (field["fields"], ("fields", index, "fields"))
            for index, field in enumerate(form["fields"])
            if field.get("type") == "table"
        ]
        for fields, path in levels:
            circle = _formula_circle(_formula_reads(form, fields, path))
            if circle:
                index = next(i for i, f in enumerate(fields) if f["name"] == circle[0])
                issues.append(document.issue((*path, index, "formula"), _(
                    "the formulas read each other round in a circle: %(circle)s",
                    circle=" → ".join(circle),
                )))  # fmt: skip


def _formula_reads(form: dict, fields: list[dict], path: tuple) -> dict[str, set[str]]:
    """Each formula field of ``fields`` → the formula fields among them it reads."""
    formulas = {f["name"]: f["formula"] for f in fields if f.get("type") == "formula"}
    reads = {}
    for index, field in enumerate(fields):
        if field["name"] in formulas:
            try:
                names = compile_expression(
                    formulas[field["name"]], expression_names(form, (*path, index))
                ).names
            except ExpressionError:  # said by check_expressions
                names = frozenset()
            reads[field["name"]] = set(names) & formulas.keys()
    return reads


def _formula_circle(reads: dict[str, set[str]]) -> list[str]:
    """The first circle of formulas reading each other (``a → b → a``), or []."""

    def walk(name: str, path: list[str]) -> list[str]:
        if name in path:
            return [*path[path.index(name) :], name]
        for read in sorted(reads[name]):
            circle = walk(read, [*path, name])
            if circle:
                return circle
        return []

    for name in reads:
        circle = walk(name, [])
        if circle:
            return circle
    return []


@cross_check
def check_menus(metadata: Metadata, issues: list[MetadataIssue]) -> None:
    """A form is listed under one of the menus settings.yaml declares."""
    menus = [menu["name"] for menu in metadata.settings.get("menus", [])]
    for document in metadata.forms.values():
        menu = document.data.get("menu")
        if menu is not None and menu not in menus:
            issues.append(
                document.issue(
                    ("menu",),
                    _(
                        "unknown menu '%(menu)s'; expected one of: %(menus)s",
                        menu=menu,
                        menus=", ".join(menus) or "—",
                    ),
                )
            )


@cross_check
def check_cards(metadata: Metadata, issues: list[MetadataIssue]) -> None:
    """``card_of``: a kernel entity, matched by a unique field of the card, and one card form
    per entity (a lookup must know which card to read: the first by name keeps it)."""
    carded: dict[str, list[str]] = {}  # target → the forms met so far that card it
    for name, document in sorted(metadata.forms.items()):
        card = document.data.get("card_of")
        if card is None:
            continue
        earlier = carded.setdefault(card["target"], [])
        problem = _card_problem(metadata, document.data, card["target"], card["key"], earlier)
        earlier.append(name)
        if problem is not None:
            issues.append(document.issue(("card_of", problem[0]), problem[1]))


def _card_problem(metadata: Metadata, form: dict, target: str, key: str, earlier: list[str]):
    """(the ``card_of`` key at fault, why) or None."""
    if target not in MASTER_ENTITIES:
        return "target", _(
            "'%(target)s' is not one of the kernel's entities: %(entities)s",
            target=target, entities=", ".join(MASTER_ENTITIES),
        )  # fmt: skip
    field = next((f for f in form["fields"] if f["name"] == key), None)
    if field is None or not field.get("unique"):
        return "key", _(
            "'%(key)s' must be a unique field of the form: it finds the card of a %(target)s",
            key=key, target=target,
        )  # fmt: skip
    if key not in (link_names(metadata, target) or {key}):
        return "key", _(
            "the kernel's %(target)s has no '%(key)s' to match the card by", target=target, key=key
        )
    if earlier:
        return "target", _(
            "'%(target)s' has its cards in form '%(form)s' already",
            target=target, form=", ".join(earlier),
        )  # fmt: skip
    return None


@cross_check
def check_reminders(metadata: Metadata, issues: list[MetadataIssue]) -> None:
    """``recurring`` and ``deadline``: dated by a date field of the form, counted in states its
    workflow has, ``open_if`` over the form's names, roles that exist to remind; a recurring duty
    is done per location."""
    for name, document in metadata.forms.items():
        form = document.data
        for key in ("recurring", "deadline"):
            if key not in form:
                continue
            problems = _reminder_problems(metadata, name, form, form[key])
            if key == "recurring" and not form.get("location_field"):
                problems.append(((), _("a recurring duty is done per location: the form needs "
                                       "a location_field")))  # fmt: skip
            for where, message in problems:
                issues.append(document.issue((key, *where), message))


def _reminder_problems(metadata: Metadata, name: str, form: dict, spec: dict) -> list:
    problems = []
    field = next((f for f in form["fields"] if f["name"] == spec["date_field"]), None)
    if field is None or field["type"] not in ("date", "expiry_date", "datetime", "current_time"):
        problems.append((("date_field",), _(
            "'%(name)s' is not a date field of the form", name=spec["date_field"])))  # fmt: skip
    workflow = metadata.workflows.get(name)
    states = set(workflow.data["states"]) if workflow is not None else set()
    for index, state in enumerate(spec.get("states", [])):
        if state not in states:
            problems.append((("states", index), _("unknown state '%(name)s'", name=state)))
    if "open_if" in spec:
        problems += _compiled(("open_if",), spec["open_if"], expression_names(form, ()))
    for index, role in enumerate(spec["remind"]):
        if metadata.roles_document is not None and role not in metadata.roles:
            problems.append((("remind", index), _("unknown role '%(name)s'", name=role)))
    return problems


@cross_check
def check_makes(metadata: Metadata, issues: list[MetadataIssue]) -> None:
    """``makes``: a form that exists, fields of it that exist (a table for ``lines.to``, a table
    of the source for ``lines.from``), and expressions over the source's names."""
    for document in metadata.forms.values():
        for index, spec in enumerate(document.data.get("makes", [])):
            for where, message in _made_problems(metadata, document.data, spec):
                issues.append(document.issue(("makes", index, *where), message))


def _made_problems(metadata: Metadata, source: dict, spec: dict) -> list[tuple[tuple, str]]:
    """(path inside the ``makes`` entry, why) of each problem of one entry."""
    target = metadata.forms.get(spec["form"])
    if target is None:
        return [(("form",), _("unknown form '%(name)s'", name=spec["form"]))]
    header = {f["name"] for f in source["fields"]} | set(SYSTEM_NAMES)
    fields = {f["name"]: f for f in target.data["fields"]}
    problems = _made_values(("values",), spec["values"], fields, header)
    if "when" in spec:
        problems += _compiled(("when",), spec["when"], header)
    lines = spec.get("lines")
    if lines is None:
        return problems
    table = fields.get(lines["to"])
    if table is None or table["type"] != "table":
        message = _("'%(name)s' is not a table of the form made", name=lines["to"])
        return [*problems, (("lines", "to"), message)]
    names = set(header)
    if "from" in lines:
        tables = {f["name"]: f for f in source["fields"] if f["type"] == "table"}
        if lines["from"] not in tables:
            message = _("'%(name)s' is not a table of this form", name=lines["from"])
            return [*problems, (("lines", "from"), message)]
        names |= {f["name"] for f in tables[lines["from"]]["fields"]}
    if "when" in lines:
        problems += _compiled(("lines", "when"), lines["when"], names)
    line_fields = {f["name"]: f for f in table["fields"]}
    return problems + _made_values(("lines", "values"), lines["values"], line_fields, names)


def _made_values(path: tuple, values: dict, fields: dict, names: set) -> list[tuple[tuple, str]]:
    problems = []
    for name, text in values.items():
        if name not in fields or fields[name]["type"] == "table":
            problems.append(((*path, name), _("the form made has no field '%(name)s'", name=name)))
        else:
            problems += _compiled((*path, name), text, names)
    return problems


def _compiled(path: tuple, text: str, names: set) -> list[tuple[tuple, str]]:
    try:
        compile_expression(text, names)
    except ExpressionError as exc:
        return [(path, str(exc))]
    return []
