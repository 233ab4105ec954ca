"""Load every metadata definition, check it against its JSON Schema and its cross-references.

All problems are collected and raised together as ``MetadataInvalid``; nothing is half-applied:
either a complete, valid ``Metadata`` comes back or nothing does.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from fnmatch import fnmatch
from functools import cache, lru_cache
from pathlib import Path, PurePosixPath

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing import Registry, Resource

from app.i18n import _
from app.meta.yamlsource import MetadataInvalid, MetadataIssue, SourceDocument, parse_yaml

SCHEMA_DIR = Path(__file__).parent / "schemas"

#: Link targets that are kernel or identity tables rather than metadata-defined forms.
MASTER_ENTITIES = ("item", "location", "lot", "unit", "user")


@dataclass(frozen=True)
class Kind:
    """A kind of definition: where its files live and which schema checks them."""

    name: str
    schema: str
    root: str  # "metadata" or "workflows"
    pattern: str


KINDS = (
    Kind("form", "form.schema.json", "metadata", "forms/*.yaml"),
    Kind("roles", "roles.schema.json", "metadata", "roles.yaml"),
    Kind("workflow", "workflow.schema.json", "workflows", "*.yaml"),
    Kind("report", "report.schema.json", "metadata", "reports/*.yaml"),
    Kind("dashboard", "dashboard.schema.json", "metadata", "dashboards/*.yaml"),
    Kind("settings", "settings.schema.json", "metadata", "settings.yaml"),
    Kind("options", "options.schema.json", "metadata", "options/*.yaml"),
)


@dataclass
class Metadata:
    """A complete, valid set of definitions, by kind and name."""

    forms: dict[str, SourceDocument] = field(default_factory=dict)
    workflows: dict[str, SourceDocument] = field(default_factory=dict)
    roles: dict[str, dict] = field(default_factory=dict)
    roles_document: SourceDocument | None = None
    reports: dict[str, SourceDocument] = field(default_factory=dict)
    dashboards: dict[str, SourceDocument] = field(default_factory=dict)
    #: ``metadata/settings.yaml``: knobs of the application by section (``replenishment``)
    settings: dict = field(default_factory=dict)
    settings_document: SourceDocument | None = None
    #: Objects compiled from the definitions (reports, …), built once when the set loads.
    cache: dict = field(default_factory=dict)
    #: names of forms whose file failed its schema: they exist, so nothing else is blamed for them
    broken_forms: set[str] = field(default_factory=set)
    #: the YAML text of each form, as loaded (for the admin editor and exports)
    form_texts: dict[str, str] = field(default_factory=dict)
    #: shared option lists (``metadata/options/<name>.yaml``), by name
    option_lists: dict[str, SourceDocument] = field(default_factory=dict)
    #: where each shared list is offered: list name → [(form | report, its name, field path)]
    option_users: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)

    def summary(self) -> dict[str, int]:
        return {
            "forms": len(self.forms),
            "workflows": len(self.workflows),
            "roles": len(self.roles),
            "reports": len(self.reports),
            "dashboards": len(self.dashboards),
            "option lists": len(self.option_lists),
        }


@cache
def _registry() -> Registry:
    resources = []
    for path in SCHEMA_DIR.glob("*.schema.json"):
        schema = json.loads(path.read_text())
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources)


@cache
def validator_for(schema_file: str) -> Draft202012Validator:
    schema = json.loads((SCHEMA_DIR / schema_file).read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, registry=_registry())


def schema_issues(document: SourceDocument, schema_file: str) -> list[MetadataIssue]:
    """Every JSON Schema violation in ``document``, each as a precise, readable issue."""
    issues = []
    for error in validator_for(schema_file).iter_errors(document.data):
        issues.extend(describe_error(document, error))
    return issues


def describe_error(
    document: SourceDocument, error: ValidationError, base: tuple = ()
) -> Iterable[MetadataIssue]:
    """Turn a JSON Schema error into readable issues; ``base`` is where the checked value sits."""
    path = (*base, *error.absolute_path)
    if error.validator in ("oneOf", "anyOf"):
        # the choices written for other kinds of value (a source's name, when a union's mapping
        # is given) say nothing useful: what is wrong is said by the choices for this kind
        fitting = [e for e in error.context if e.validator != "type" or e.relative_path]
        if fitting and all(e.validator == "required" and not e.relative_path for e in fitting):
            keys = " / ".join(f"'{e.message.split(chr(39))[1]}'" for e in fitting)
            yield document.issue(path, _("needs one of the keys %(keys)s", keys=keys))
            return
        if fitting:
            for choice_error in fitting:
                yield from describe_error(document, choice_error, base)
            return
    if error.validator == "minItems":
        yield document.issue(
            path, _("expected at least %(count)s entries", count=error.validator_value)
        )
        return
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        known = set(error.schema.get("properties", {}))
        for key in error.instance:
            if key not in known:
                yield document.issue((*path, key), _("unknown key '%(key)s'", key=key))
        return
    if error.validator == "required":
        missing = error.message.split("'")[1]
        yield document.issue(path, _("missing required key '%(key)s'", key=missing))
        return
    if error.validator == "dependentRequired" and isinstance(error.instance, dict):
        for key, needed in error.validator_value.items():
            for missing in (name for name in needed if key in error.instance):
                if missing not in error.instance:
                    yield document.issue(
                        path, _("'%(key)s' needs '%(needed)s' too", key=key, needed=missing)
                    )
        return
    if error.validator == "enum":
        expected = ", ".join(_as_written(value) for value in error.validator_value)
        yield document.issue(
            path,
            _(
                "'%(value)s' is not allowed; expected one of: %(expected)s",
                value=_as_written(error.instance),
                expected=expected,
            ),
        )
        return
    if error.validator == "type":
        expected = error.validator_value
        expected = " or ".join(expected) if isinstance(expected, list) else expected
        yield document.issue(
            path,
            _(
                "expected %(expected)s, got %(actual)s",
                expected=expected,
                actual=type(error.instance).__name__,
            ),
        )
        return
    if error.validator == "pattern":
        yield document.issue(
            path,
            _(
                "'%(value)s' does not match the pattern %(pattern)s",
                value=error.instance,
                pattern=error.validator_value,
            ),
        )
        return
    yield document.issue(path, error.message)


def _as_written(value) -> str:
    """A value as the YAML spells it: ``true``, not Python's ``True``."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def _read(
    kind: Kind, base: Path, metadata: Metadata, issues: list, overrides: dict[str, str]
) -> list[SourceDocument]:
    # workflows are named ``workflows/<form>.yaml`` wherever their folder is
    prefix = "workflows/" if kind.root == "workflows" else ""
    texts: dict[str, str] = {}
    for pattern in (kind.pattern, kind.pattern.removesuffix(".yaml") + ".json"):
        for path in sorted(base.glob(pattern)):  # JSON is YAML too: read by the same parser
            texts[f"{prefix}{path.relative_to(base)}"] = path.read_text(encoding="utf-8")
    for name, text in overrides.items():
        if fnmatch(name, prefix + kind.pattern):
            texts.pop(name.removesuffix(".yaml") + ".json", None)  # an edit of a JSON file
            texts[name] = text
    documents = []
    for relative, text in sorted(texts.items()):
        valid = _valid_document(text, relative, kind.schema)
        if valid is not None:  # a copy: the loader fills shared option lists in place
            documents.append(replace(valid, data=_copied(valid.data)))
            continue
        try:
            document = parse_yaml(text, relative)
        except MetadataInvalid as exc:
            issues.extend(replace(issue, root=True) for issue in exc.issues)
            if kind.name == "form":  # its name is unknown: the file's name says it
                metadata.broken_forms.add(PurePosixPath(relative).stem)
            continue
        found = schema_issues(document, kind.schema)
        issues.extend(replace(issue, root=True) for issue in found)
        if not found:
            documents.append(document)
        elif kind.name == "form" and isinstance(document.data, dict):
            metadata.broken_forms.add(str(document.data.get("name")))
    return documents


def _copied(data):
    """A copy of what the safe loader builds (mappings, lists, immutable scalars), made several
    times faster than ``copy.deepcopy``: every build copies every definition."""
    if isinstance(data, dict):
        return {key: _copied(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_copied(value) for value in data]
    return set(data) if isinstance(data, set) else data


@lru_cache(maxsize=1024)
def _valid_document(text: str, relative: str, schema_file: str) -> SourceDocument | None:
    """``text`` parsed, when it parses and passes its schema; else None, and the caller parses
    it again to collect the issues in the reader's language. Kept because nearly every text is
    the same from one build to the next — each preview keystroke and each worker's reload after
    a publish builds them all — and the schema check is most of a build's time."""
    try:
        document = parse_yaml(text, relative)
    except MetadataInvalid:
        return None
    return None if schema_issues(document, schema_file) else document


#: Cross-reference checks run after every file passed its schema: (metadata, issues) -> None.
CrossCheck = Callable[[Metadata, list[MetadataIssue]], None]
CROSS_CHECKS: list[CrossCheck] = []


def cross_check(func: CrossCheck) -> CrossCheck:
    """Register a check that looks across definitions (links, workflows, roles)."""
    CROSS_CHECKS.append(func)
    return func


def load_metadata(
    metadata_dir: Path, workflows_dir: Path, overrides: dict[str, str] | None = None
) -> Metadata:
    """Read, validate and cross-check every definition; raise ``MetadataInvalid`` if any fails.

    ``overrides`` maps a file name (``forms/supplier.yaml``, ``reports/near_expiry.yaml``,
    ``workflows/scrap.yaml``) to the text to use instead of the file's (an admin's published or
    draft edit); a name with no file adds a new form, report, workflow or option list.
    """
    issues: list[MetadataIssue] = []
    roots = {"metadata": Path(metadata_dir), "workflows": Path(workflows_dir)}
    metadata = Metadata()
    for kind in KINDS:
        for document in _read(kind, roots[kind.root], metadata, issues, overrides or {}):
            _register(metadata, kind, document, issues)
    _share_options(metadata, issues)
    for check in CROSS_CHECKS:
        check(metadata, issues)
    if issues:
        raise MetadataInvalid(issues)
    return metadata


def on_disk(issue: MetadataIssue, metadata_dir: Path, workflows_dir: Path) -> MetadataIssue:
    """``issue`` naming the file it is about where it is on disk — relative to the current
    folder when it is under it, else absolute — rather than as the loader names it
    (``workflows/sales_order.yaml``, ``forms/supplier.yaml``), for an operator whose folders are
    elsewhere (``LIANKU_WORKFLOWS_DIR``) to open it. An issue about no file (a plugin's) as is."""
    for kind in KINDS:
        prefix = "workflows/" if kind.root == "workflows" else ""
        base = Path(workflows_dir if kind.root == "workflows" else metadata_dir)
        patterns = (kind.pattern, kind.pattern.removesuffix(".yaml") + ".json")
        if any(fnmatch(issue.file, prefix + pattern) for pattern in patterns):
            path = Path(os.path.abspath(base / issue.file.removeprefix(prefix)))
            if path.is_relative_to(Path.cwd()):
                path = path.relative_to(Path.cwd())
            return replace(issue, file=str(path))
    return issue


def _register(metadata: Metadata, kind: Kind, document: SourceDocument, issues: list) -> None:
    data = document.data
    if kind.name == "form":
        _add_unique(metadata.forms, data["name"], document, ("name",), issues)
        metadata.form_texts.setdefault(data["name"], document.text)
    elif kind.name == "report":
        _add_unique(metadata.reports, data["name"], document, ("name",), issues)
    elif kind.name == "dashboard":
        _add_unique(metadata.dashboards, data["name"], document, ("name",), issues)
    elif kind.name == "workflow":
        _add_unique(metadata.workflows, data["form"], document, ("form",), issues)
    elif kind.name == "settings":
        metadata.settings = data or {}
        metadata.settings_document = document
    elif kind.name == "options":
        _add_unique(metadata.option_lists, data["name"], document, ("name",), issues)
    elif kind.name == "roles":
        metadata.roles = data["roles"]
        metadata.roles_document = document


def _add_unique(registry: dict, name: str, document: SourceDocument, path, issues: list) -> None:
    if name in registry:
        first = registry[name].file
        issues.append(
            document.issue(
                path, _("'%(name)s' is already defined in %(file)s", name=name, file=first)
            )
        )
    else:
        registry[name] = document


def _share_options(metadata: Metadata, issues: list) -> None:
    """Put each shared option list in place where a field or report parameter names it
    (``options: transport_modes``), so that everything reading ``options`` finds the choices —
    and note who offers it, for the list's editor."""

    def share(owner: tuple, document: SourceDocument, spec: dict, path: tuple, shown: str):
        name = spec.get("options")
        if not isinstance(name, str):
            return
        shared = metadata.option_lists.get(name)
        if shared is None:
            spec["options"] = []  # what reads the form next finds no choices, not a name
            if not any(issue.file == f"options/{name}.yaml" for issue in issues):  # else: broken
                message = _("unknown option list '%(name)s'", name=name)
                issues.append(document.issue((*path, "options"), message))
            return
        spec["options"] = [dict(option) for option in shared.data["options"]]
        metadata.option_users.setdefault(name, []).append((*owner, shown))

    for form, document in metadata.forms.items():
        for i, spec in enumerate(document.data.get("fields") or []):
            share(("form", form), document, spec, ("fields", i), spec["name"])
            for j, child in enumerate(spec.get("fields") or []):
                path = ("fields", i, "fields", j)
                share(("form", form), document, child, path, f"{spec['name']}.{child['name']}")
    for report, document in metadata.reports.items():
        for i, spec in enumerate(document.data.get("params") or []):
            share(("report", report), document, spec, ("params", i), spec["name"])
