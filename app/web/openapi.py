"""The REST API described as OpenAPI 3.1, built from the live metadata at each request.

Integrators read what the caller may use: every form they may read, with its fields' schema
(``app.meta.api_schema``), the endpoints of its records and its transitions by name and label;
every report they may run, with its parameters; and the shared endpoints (lookups, approvals,
stock). An admin's edit of a form, a workflow or a report shows here at once, as it does on the
pages. ``/api/docs`` renders it with Swagger UI, served locally like every browser asset; "Try
it out" sends the page's CSRF token.
"""

from __future__ import annotations

from flask import Blueprint, jsonify, render_template
from flask_login import current_user, login_required

from app.i18n import _
from app.meta import access
from app.meta.api_schema import data_schema, record_schema
from app.meta.forms import FormDef, label_text
from app.meta.records import locale
from app.meta.reports import exportable, runnable
from app.meta.reports.model import ReportParam
from app.web.forms_api import api_auth
from app.web.forms_common import registry
from app.web.session import db_session
from app.workflow import engine

bp = Blueprint("openapi", __name__)

JSON = "application/json"


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _body(schema: dict, required: bool = True) -> dict:
    return {"required": required, "content": {JSON: {"schema": schema}}}


def _answer(description: str, schema: dict | None = None) -> dict:
    answer = {"description": description}
    if schema is not None:
        answer["content"] = {JSON: {"schema": schema}}
    return answer


def _errors(*codes: str) -> dict:
    words = {
        "400": _("A query parameter it cannot use or does not take: `errors` names it and why."),
        "401": _("Not signed in, or the token is not valid."),
        "403": _("Not allowed: the role or the data scope does not permit it."),
        "404": _("Not found, or out of the caller's data scope."),
        "409": _("A conflict: a stale version, a wrong state, a stock rule."),
        "422": _("Refused input: `errors` names each field and why."),
    }
    return {code: _answer(words[code], _ref("Error")) for code in codes}


def _id_param(name: str = "id") -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}


IDEMPOTENCY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "maxLength": 128},
}


WRITES = ("create", "update", "delete")


def _multipart(**extra) -> dict:
    """A request body that uploads ``file`` (and the ``extra`` form fields)."""
    properties = {"file": {"type": "string", "contentEncoding": "binary"}, **extra}
    schema = {"type": "object", "required": ["file"], "properties": properties}
    return {"required": True, "content": {"multipart/form-data": {"schema": schema}}}


def _form_paths(form: FormDef, here: str | None, principal) -> dict:
    """The endpoints of one form's records, its transitions and its helpers — those the caller
    may use (one who may only read sees no POST, PATCH or DELETE)."""
    base = f"/api/v1/forms/{form.name}"
    tag = [form.label(here)]
    data, record = _ref(f"{form.name}_data"), _ref(f"{form.name}_record")
    filters = [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
        for name in ("q", "sort", "page", "per_page")
    ]
    paths = {
        f"{base}/records": {
            "get": {
                "tags": tag,
                "summary": _("List records (filter by any field: ?field=value)"),
                "parameters": filters,
                "responses": {
                    "200": _answer(
                        _("A page of records."),
                        {
                            "type": "object",
                            "properties": {
                                "items": {"type": "array", "items": record},
                                "total": {"type": "integer"},
                                "page": {"type": "integer"},
                                "per_page": {"type": "integer"},
                            },
                        },
                    ),
                    **_errors("401", "403"),
                },
            },
            "post": {
                "tags": tag,
                "summary": _("Create a record"),
                "parameters": [IDEMPOTENCY],
                "requestBody": _body(data),
                "responses": {
                    "201": _answer(_("The record created."), record),
                    **_errors("401", "403", "409", "422"),
                },
            },
        },
        f"{base}/records/{{id}}": {
            "parameters": [_id_param()],
            "get": {
                "tags": tag,
                "summary": _("Read a record"),
                "responses": {"200": _answer(_("The record."), record), **_errors("401", "404")},
            },
            "patch": {
                "tags": tag,
                "summary": _("Change a record: the fields sent, with the version read"),
                "requestBody": _body(
                    {
                        "type": "object",
                        "properties": {"version": {"type": "integer"}, "data": data},
                    }  # fmt: skip
                ),
                "responses": {
                    "200": _answer(_("The record changed."), record),
                    **_errors("401", "403", "404", "409", "422"),
                },
            },
            "delete": {
                "tags": tag,
                "summary": _("Delete a record where its state allows"),
                "parameters": [
                    {
                        "name": "version",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "integer"},
                    }  # fmt: skip
                ],
                "responses": {
                    "204": _answer(_("Deleted.")),
                    **_errors("401", "403", "404", "409"),
                },
            },
        },
        f"{base}/evaluate": {
            "post": {
                "tags": tag,
                "summary": _("Compute formulas, visibility and errors of unsaved input"),
                "requestBody": _body({"type": "object", "properties": {"data": data}}),
                "responses": {
                    "200": _answer(_("Values, errors and visible fields.")),
                    **_errors("401", "422"),
                },  # fmt: skip
            }
        },
    }
    may = {action: access.can(principal, action, form.name) for action in WRITES}
    if not may["create"]:
        del paths[f"{base}/records"]["post"]
    if not may["update"]:
        del paths[f"{base}/records/{{id}}"]["patch"]
    if not may["delete"]:
        del paths[f"{base}/records/{{id}}"]["delete"]
    if not (may["create"] or may["update"]):
        del paths[f"{base}/evaluate"]
    if may["create"]:
        paths[f"{base}/import"] = _import_path(tag)
    if _udi_fields(form):
        paths[f"{base}/scan"] = _scan_path(tag, _udi_fields(form))
    targets = [
        entry["form"] for entry in form.spec.get("makes", [])
        if access.can(principal, "create", entry["form"])
    ]  # fmt: skip
    if targets:
        paths[f"{base}/records/{{id}}/make/{{target}}"] = _make_path(tag, targets)
    transitions = [  # as the engine decides: a transition's own roles, else roles.yaml
        t for t in (form.workflow or {}).get("transitions", [])
        if engine.firing_roles(principal, form, t)
    ]  # fmt: skip
    if transitions:
        names = [t["name"] for t in transitions]
        paths[f"{base}/records/{{id}}/transitions/{{transition}}"] = {
            "parameters": [
                _id_param(),
                {
                    "name": "transition",
                    "in": "path",
                    "required": True,
                    "schema": {"enum": names},
                    "description": "; ".join(
                        f"{t['name']} = {label_text(t.get('label'), here)}" for t in transitions
                    ),
                },
            ],  # fmt: skip
            "post": {
                "tags": tag,
                "summary": _("Fire a transition (approvals, actions and stock postings run)"),
                "parameters": [IDEMPOTENCY],
                "requestBody": _body(_ref("Transition"), required=False),
                "responses": {
                    "200": _answer(_("The record in its new state."), record),
                    **_errors("401", "403", "404", "409", "422"),
                },
            },
        }
        fire = paths[f"{base}/records/{{id}}/transitions/{{transition}}"]
        paths[f"{base}/records/{{id}}/transitions/{{transition}}/preview"] = {
            "parameters": fire["parameters"],
            "post": {
                "tags": tag,
                "summary": _("What firing it would do, nothing saved (no signature asked)"),
                "requestBody": _body(_ref("Transition"), required=False),
                "responses": {
                    "200": _answer(_("The record as it would then be."), record),
                    **_errors("401", "403", "404", "409", "422"),
                },
            },
        }
    if any(t.get("approval") for t in transitions):
        paths[f"{base}/records/{{id}}/withdraw"] = {
            "parameters": [_id_param()],
            "post": {
                "tags": tag,
                "summary": _(
                    "Withdraw it from its approvers (撤回): whoever submitted it, while "
                    "it waits; back in the state it was submitted from"
                ),
                "parameters": [IDEMPOTENCY],
                "requestBody": _body(
                    {"type": "object", "properties": {"comment": {"type": "string"}}},
                    required=False,
                ),
                "responses": {
                    "200": _answer(_("The record, back where it was submitted from."), record),
                    **_errors("401", "403", "404", "409", "422"),
                },
            },
        }
    return paths


def _udi_fields(form: FormDef) -> list[str]:
    """The UDI fields of a form, as ``/scan`` names them (``lines.scan`` on a line)."""
    return [
        f"{top.name}.{child.name}" if child is not top else top.name
        for top in form.fields
        for child in [top, *top.fields]
        if child.type == "udi"
    ]


def _import_path(tag: list) -> dict:
    return {
        "post": {
            "tags": tag,
            "summary": _("Import records from an Excel file (the template's columns)"),
            "parameters": [IDEMPOTENCY],
            "requestBody": _multipart(keep_valid={"type": "boolean"}),
            "responses": {
                "201": _answer(_("What was created, and each refused row's errors.")),
                "202": _answer(_("A large file: the job importing it (GET /api/v1/jobs/{id}).")),
                **_errors("401", "403", "422"),
            },
        }
    }


def _scan_path(tag: list, fields: list[str]) -> dict:
    scan = {
        "type": "object",
        "required": ["field", "value"],
        "properties": {"field": {"enum": fields}, "value": {"type": "string"}},
    }
    return {
        "post": {
            "tags": tag,
            "summary": _("Read a GS1 UDI scan: the fields it fills, checked against the records"),
            "requestBody": _body(scan),
            "responses": {
                "200": _answer(_("The values it fills, by field, and the GTIN.")),
                **_errors("401", "403", "422"),
            },
        }
    }


def _make_path(tag: list, targets: list[str]) -> dict:
    target = {"name": "target", "in": "path", "required": True, "schema": {"enum": targets}}
    return {
        "parameters": [_id_param(), target],
        "get": {
            "tags": tag,
            "summary": _("The draft of a record made from this one, to complete and create"),
            "responses": {
                "200": _answer(_("The target form and the draft's data.")),
                **_errors("401", "404", "409"),
            },
        },
    }


def _shared_paths(principal) -> dict:
    text = {"type": "string"}
    paths = {
        "/api/v1/lookup/{target}": {
            "get": {
                "tags": [_("Shared")],
                "summary": _("Search master data or records to link (location, item, a form)"),
                "parameters": [
                    {"name": "target", "in": "path", "required": True, "schema": text},
                    {"name": "q", "in": "query", "required": False, "schema": text},
                ],
                "responses": {"200": _answer(_("Matches: id and text.")), **_errors("401")},
            }
        },
        "/api/v1/approval-tasks/{id}/decision": {
            "parameters": [_id_param()],
            "post": {
                "tags": [_("Shared")],
                "summary": _("Approve, reject or return an approval task given to the caller"),
                "requestBody": _body(_ref("Decision")),
                "responses": {
                    "200": _answer(_("The task decided.")),
                    **_errors("401", "404", "409", "422"),
                },  # fmt: skip
            },
        },
        "/api/v1/inbox": {
            "get": {
                "tags": [_("Shared")],
                "summary": _("The caller's inbox: approval tasks waiting, latest messages, count"),
                "parameters": [
                    {"name": "form", "in": "query", "schema": {"type": "string"}},
                    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                ],
                "responses": {
                    "200": _answer(_("Tasks (of one form, a page), per form, messages, count.")),
                    **_errors("401", "422"),
                },
            },
        },
        "/api/v1/inbox/read": {
            "post": {
                "tags": [_("Shared")],
                "summary": _("Mark the caller's messages read"),
                "requestBody": _body(
                    {
                        "type": "object",
                        "required": ["ids"],
                        "properties": {"ids": {"type": "array", "items": {"type": "integer"}}},
                    }
                ),
                "responses": {
                    "200": _answer(_("What is left waiting or unread.")),
                    **_errors("401", "422"),
                },
            },
        },
        "/api/v1/stock/items/{id}": {
            "parameters": [_id_param()],
            "get": {
                "tags": [_("Shared")],
                "summary": _("An item's stock at every location: on hand, reserved, in transit"),
                "responses": {"200": _answer(_("The item's stock.")), **_errors("401", "404")},
            },
        },
        "/api/v1/approval-tasks/{id}/approvers": {
            "parameters": [_id_param()],
            "post": {
                "tags": [_("Shared")],
                "summary": _("Add an approver before or after oneself on a task (加签)"),
                "requestBody": _body(
                    {
                        "type": "object",
                        "required": ["user", "position"],
                        "properties": {
                            "user": {"type": "integer"},
                            "position": {"enum": ["before", "after"]},
                        },
                    }
                ),
                "responses": {
                    "201": _answer(_("The task added.")),
                    **_errors("401", "404", "409", "422"),
                },
            },
        },
        "/api/v1/approval-tasks/decisions": {
            "post": {
                "tags": [_("Shared")],
                "summary": _("Approve or reject several of one's tasks at once (批量审批)"),
                "parameters": [IDEMPOTENCY],
                "requestBody": _body(
                    {
                        "type": "object",
                        "required": ["tasks"],
                        "properties": {
                            "tasks": {"type": "array", "items": {"type": "integer"}},
                            "decision": {"enum": ["approve", "reject"]},
                            "comment": {"type": "string"},
                            "signature": {
                                "type": "object",
                                "properties": {
                                    "password": {"type": "string"},
                                    "meaning": {"type": "string"},
                                },
                            },
                        },
                    }
                ),
                "responses": {
                    "200": _answer(
                        _("approved (or rejected): the task ids; refused: task id → why not.")
                    ),
                    **_errors("401", "403", "422"),
                },
            },
        },
        "/api/v1/approval-tasks/{id}/candidates": {
            "parameters": [_id_param()],
            "get": {
                "tags": [_("Shared")],
                "summary": _("Whom one's task may be handed to (q: part of a name)"),
                "parameters": [{"name": "q", "in": "query", "schema": {"type": "string"}}],
                "responses": {
                    "200": _answer(_("Users as choices: value (id) and label (name).")),
                    **_errors("401", "404"),
                },
            },
        },
        "/api/v1/approval-tasks/{id}/handover": {
            "parameters": [_id_param()],
            "post": {
                "tags": [_("Shared")],
                "summary": _("Hand one's task to a colleague who decides it instead (转交)"),
                "requestBody": _body(
                    {
                        "type": "object",
                        "required": ["user"],
                        "properties": {"user": {"type": "integer"}, "comment": {"type": "string"}},
                    }
                ),
                "responses": {
                    "201": _answer(_("The colleague's task.")),
                    **_errors("401", "404", "409", "422"),
                },
            },
        },
        "/api/v1/attachments/{id}": {
            "parameters": [_id_param()],
            "get": {
                "tags": [_("Shared")],
                "summary": _("Download an attachment of a record the caller may read"),
                "responses": {"200": _answer(_("The file.")), **_errors("401", "404")},
            },
        },
        "/api/v1/jobs/{id}": {
            "parameters": [_id_param()],
            "get": {
                "tags": [_("Shared")],
                "summary": _("A job the caller started (an import of a large file): how it goes"),
                "responses": {
                    "200": _answer(_("Its status, progress, message, and result or error.")),
                    **_errors("401", "404"),
                },
            },
        },
    }
    if not access.writes_nothing(principal):
        paths["/api/v1/delegations"] = {
            "post": {
                "tags": [_("Shared")],
                "summary": _("While the caller is away, their new approval tasks go to another"),
                "requestBody": _body(
                    {
                        "type": "object",
                        "required": ["to_user", "starts_at", "ends_at"],
                        "properties": {
                            "to_user": {"type": "integer"},
                            "starts_at": {"type": "string", "format": "date-time"},
                            "ends_at": {"type": "string", "format": "date-time"},
                        },
                    }
                ),
                "responses": {"201": _answer(_("The delegation.")), **_errors("401", "403", "422")},
            }
        }
    if access.can(principal, "create") or access.can(principal, "update"):
        paths["/api/v1/attachments"] = {
            "post": {
                "tags": [_("Shared")],
                "summary": _("Upload a file; its id goes into an attachment field"),
                "parameters": [IDEMPOTENCY],
                "requestBody": _multipart(),
                "responses": {"201": _answer(_("The file's id.")), **_errors("401", "403")},
            }
        }
    if access.can(principal, "admin"):
        paths.update(_token_paths())
    if access.can(principal, "close_periods") or access.can(principal, "audit"):
        paths.update(_period_paths(access.can(principal, "close_periods")))
    return paths


def _period_schemas() -> dict:
    """A month's close as the periods API answers it, and a refused close."""
    text, when = {"type": ["string", "null"]}, {"type": ["string", "null"], "format": "date-time"}
    return {
        "Period": {
            "type": "object",
            "required": ["id", "month", "through", "closed_at"],
            "properties": {
                "id": {"type": "integer"},
                "month": {"type": "string", "examples": ["2026-11"]},
                "through": {"type": "string", "format": "date"},
                "closed_at": {"type": "string", "format": "date-time"},
                "closed_by": text,
                "reopened_at": when,
                "reopened_by": text,
                "reopen_reason": text,
            },  # fmt: skip
        },
        "Periods": {
            "type": "object",
            "required": ["periods"],
            "properties": {
                "closed_through": {"type": ["string", "null"], "format": "date"},
                "next_month": text,
                "periods": {"type": "array", "items": _ref("Period")},
            },
        },
        "PeriodRefused": {
            "type": "object",
            "required": ["message", "field"],
            "properties": {
                "message": {"type": "string"},
                "error": {"type": "string"},
                "field": {"enum": ["month", "reason"]},
                "unfinished": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "form": {"type": "string"},
                            "id": {"type": "integer"},
                            "number": text,
                            "state": {"type": "string"},
                            "url": {"type": "string"},
                        },  # fmt: skip
                    },
                },
            },
        },
    }


def _period_paths(closes: bool) -> dict:
    """The month-end close (结账): who closes months closes and reopens them, auditors read."""
    paths = {
        "/api/v1/periods": {
            "get": {
                "tags": [_("Shared")],
                "summary": _("The closed months, the last closed day and the month next to close"),
                "responses": {
                    "200": _answer(_("The closes, latest first."), _ref("Periods")),
                    **_errors("401"),
                },
            },
        },
    }
    if closes:
        paths["/api/v1/periods"]["post"] = {
            "tags": [_("Shared")],
            "summary": _("Close a month (YYYY-MM): its documents become final"),
            "requestBody": _body(
                {
                    "type": "object",
                    "required": ["month"],
                    "properties": {"month": {"type": "string"}},
                }
            ),
            "responses": {
                "201": _answer(_("The close."), _ref("Period")),
                "409": _answer(
                    _("Refused: the field, and the documents that keep it open."),
                    _ref("PeriodRefused"),
                ),
                **_errors("401", "403", "422"),
            },
        }
        paths["/api/v1/periods/reopen"] = {
            "post": {
                "tags": [_("Shared")],
                "summary": _("Reopen the latest closed month (反结账), saying why"),
                "requestBody": _body(
                    {
                        "type": "object",
                        "required": ["reason"],
                        "properties": {"reason": {"type": "string"}},
                    }
                ),
                "responses": {
                    "200": _answer(_("The reopened close."), _ref("Period")),
                    "409": _answer(
                        _("Refused: the reason, or no month closed."), _ref("PeriodRefused")
                    ),
                    **_errors("401", "403", "422"),
                },
            },
        }
    return paths


def _token_paths() -> dict:
    token = {
        "type": "object",
        "required": ["name", "role"],
        "properties": {
            "name": {"type": "string", "maxLength": 64},
            "role": {"type": "string"},
            "locations": {"type": "array", "items": {"type": "string"}},
            "valid_days": {"type": ["integer", "null"], "minimum": 1, "maximum": 3650},
        },
    }
    admin = [_("Administration")]
    return {
        "/api/v1/admin/tokens": {
            "get": {
                "tags": admin,
                "summary": _("The API tokens issued (never their secret)"),
                "responses": {"200": _answer(_("The tokens.")), **_errors("401", "403")},
            },
            "post": {
                "tags": admin,
                "summary": _("Issue a token: its secret is in this answer only"),
                "requestBody": _body(token),
                "responses": {"201": _answer(_("The token.")), **_errors("401", "403", "422")},
            },
        },
        "/api/v1/admin/tokens/{id}": {
            "parameters": [_id_param()],
            "delete": {
                "tags": admin,
                "summary": _("Revoke a token: refused from the next request on"),
                "responses": {"200": _answer(_("The token.")), **_errors("401", "403", "404")},
            },
        },
    }


def _param_schema(param: ReportParam) -> dict:
    """A report parameter as the query string takes it."""
    if param.type == "date":
        return {"type": "string", "format": "date"}
    if param.type == "date_range":
        return {"type": "string", "pattern": r"^(\d{4}-\d{2}-\d{2})?\.\.(\d{4}-\d{2}-\d{2})?$"}
    if param.type == "select":
        return {"enum": [str(option["value"]) for option in param.options]}
    if param.type == "number":
        return {"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}
    return {"type": "string"}  # text; a location: mine, an id or a code


def _report_paths(session, principal, here: str | None) -> dict:
    """One path per report the caller may run, its parameters in the query string."""
    reg = registry()
    paths = {}
    for name in sorted(reg.metadata.reports):
        report = reg.report(name)
        if report is None or not runnable(session, report, principal):
            continue
        params = [
            {
                "name": param.name,
                "in": "query",
                "required": param.required,
                "schema": _param_schema(param),
                "description": label_text(param.label, here)
                + (
                    _(" (or %(name)s_from and %(name)s_to)", name=param.name)
                    if param.type == "date_range"
                    else ""
                ),
            }  # fmt: skip
            for param in report.params
        ]
        params += [{"name": key, "in": "query", "required": False, "schema": {"type": "integer"}}
                   for key in ("page", "per_page")]  # fmt: skip
        paths[f"/api/v1/reports/{name}"] = {
            "get": {
                "tags": [_("Reports")],
                "summary": label_text(report.label, here),
                "parameters": params,
                "responses": {
                    "200": _answer(_("Its columns (name, label, type) and a page of rows.")),
                    **_errors("400", "401", "404"),
                },
            }
        }
        if not exportable(report, principal):
            continue
        fmt = {"name": "fmt", "in": "path", "required": True, "schema": {"enum": ["xlsx", "csv"]}}
        paths[f"/api/v1/reports/{name}/export.{{fmt}}"] = {
            "get": {
                "tags": [_("Reports")],
                "summary": _("%(report)s as a file", report=label_text(report.label, here)),
                "parameters": [fmt, *params[:-2]],
                "responses": {
                    "200": _answer(_("The file: every row, up to 5,000.")),
                    **_errors("400", "401", "403", "404", "422"),
                },
            }
        }
    return paths


def _components(forms: list[FormDef], here: str | None) -> dict:
    schemas = {
        "Error": {
            "type": "object",
            "required": ["message"],
            "properties": {
                "message": {"type": "string"},
                "error": {"type": "string"},
                "errors": {
                    "type": "object",
                    "additionalProperties": {"type": "array", "items": {"type": "string"}},
                },
                "field": {"type": "string"},
            },  # fmt: skip
        },
        "Transition": {
            "type": "object",
            "properties": {
                "comment": {"type": "string"},
                "version": {"type": "integer"},
                "signature": {
                    "type": "object",
                    "properties": {"password": {"type": "string"}, "meaning": {"type": "string"}},
                },
            },
        },
        "Decision": {
            "type": "object",
            "required": ["decision"],
            "properties": {
                "decision": {"enum": ["approve", "reject", "return"]},
                "comment": {"type": "string"},
                "return_to": {"type": "string"},
            },
        },
        **_period_schemas(),
    }
    for form in forms:
        schemas[f"{form.name}_data"] = data_schema(form.fields, here)
        schemas[f"{form.name}_record"] = record_schema(form, _ref(f"{form.name}_data"))
    return {
        "schemas": schemas,
        "securitySchemes": {
            "token": {
                "type": "http",
                "scheme": "bearer",
                "description": _("An API token an administrator issued."),
            },
            "session": {
                "type": "apiKey",
                "in": "cookie",
                "name": "session",
                "description": _("A signed-in browser; writes send X-CSRFToken."),
            },
        },  # fmt: skip
    }


def document(principal) -> dict:
    """The OpenAPI document of what ``principal`` may read, in their language."""
    here = locale()
    reg = registry()
    forms = [
        form for name, form in sorted(reg.forms.items()) if access.can(principal, "read", name)
    ]
    paths = {}
    for form in forms:
        paths.update(_form_paths(form, here, principal))
    paths.update(_shared_paths(principal))
    paths.update(_report_paths(db_session(), principal, here))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": _("Lianku API"),
            "version": f"1 (metadata {reg.generation})",
            "description": _(
                "Every form of this company, as its metadata defines it now. Errors are JSON "
                "with a message to show; every POST honours Idempotency-Key."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"token": []}, {"session": []}],
        "tags": [{"name": form.label(here), "description": form.name} for form in forms],
        "paths": paths,
        "components": _components(forms, here),
    }


@bp.get("/api/v1/openapi.json")
@api_auth
def openapi_json():
    return jsonify(document(current_user))


@bp.get("/api/docs")
@login_required
def docs():
    return render_template("api_docs.html")
