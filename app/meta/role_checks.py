"""Cross-checks of ``metadata/roles.yaml``: what its JSON Schema cannot see.

A role may only name forms that exist (or ``*``), and a ``read_only`` role may not list a write
action — the access rules would silently drop it, so the admin is told instead.
"""

from __future__ import annotations

from app.i18n import _
from app.meta.loader import Metadata, cross_check
from app.meta.yamlsource import MetadataIssue


def _is_write(action: str) -> bool:
    return action in ("create", "update", "delete") or action.startswith("transition:")


@cross_check
def check_roles(metadata: Metadata, issues: list[MetadataIssue]) -> None:
    document = metadata.roles_document
    if document is None:
        return
    known_forms = set(metadata.forms) | metadata.broken_forms | {"*"}
    for name, role in metadata.roles.items():
        for form, actions in role.get("forms", {}).items():
            path = ("roles", name, "forms", form)
            if form not in known_forms:
                issues.append(document.issue(path, _("unknown form '%(name)s'", name=form)))
            if role.get("read_only"):
                for index, action in enumerate(actions):
                    if _is_write(action):
                        issues.append(
                            document.issue(
                                (*path, index),
                                _(
                                    "a read_only role cannot be granted '%(action)s'",
                                    action=action,
                                ),
                            )
                        )
        if role.get("read_only") and role.get("admin"):
            issues.append(
                document.issue(("roles", name, "admin"), _("a read_only role cannot be an admin"))
            )
