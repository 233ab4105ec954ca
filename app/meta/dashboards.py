"""Dashboards as metadata: a grid of cards, each a report drawn as a chart with fixed parameters.

A dashboard names the roles whose home page shows it; cards the user may not run are left out,
so one dashboard serves a store manager and an auditor alike without leaking anything.
"""

from __future__ import annotations

from collections.abc import Callable

from app.i18n import _
from app.meta.loader import Metadata, cross_check
from app.meta.reports.definition import get_report  # (its checks compile the reports first)
from app.meta.yamlsource import MetadataIssue


@cross_check
def check_dashboards(metadata: Metadata, issues: list[MetadataIssue]) -> None:
    for document in metadata.dashboards.values():
        for role_index, role in enumerate(document.data.get("roles", [])):
            if metadata.roles_document is not None and role not in metadata.roles:
                issues.append(
                    document.issue(("roles", role_index), _("unknown role '%(name)s'", name=role))
                )
        for index, card in enumerate(document.data["cards"]):
            report = metadata.reports.get(card["report"])
            if report is None:
                issues.append(
                    document.issue(
                        ("cards", index, "report"),
                        _("unknown report '%(name)s'", name=card["report"]),
                    )
                )
                continue
            compiled, measure = get_report(metadata, card["report"]), card.get("measure")
            if measure and compiled and measure not in {c.name for c in compiled.figures}:
                issues.append(
                    document.issue(
                        ("cards", index, "measure"),
                        _("'%(name)s' is not one of the report's figures (a column of numbers "
                          "it shows)", name=measure),
                    )
                )  # fmt: skip
            known = {param["name"] for param in report.data.get("params", [])}
            for key in card.get("params", {}):
                base = key.removesuffix("_from").removesuffix("_to")
                if key not in known and base not in known:
                    issues.append(
                        document.issue(
                            ("cards", index, "params", key),
                            _("unknown parameter '%(name)s'", name=key),
                        )
                    )


def dashboard_for(
    metadata: Metadata, roles: list[str], may_run: Callable[[str], bool]
) -> dict | None:
    """The first dashboard (by name) meant for one of ``roles``, keeping only the cards whose
    report ``may_run``; None when there is none. A card an admin left untitled is titled by its
    report's label (a card with no heading says nothing of what it counts)."""
    for name in sorted(metadata.dashboards):
        data = metadata.dashboards[name].data
        if set(data.get("roles", [])) & set(roles):
            cards = [_titled(metadata, card) for card in data["cards"] if may_run(card["report"])]
            if cards:
                return {**data, "cards": cards}
    return None


def _titled(metadata: Metadata, card: dict) -> dict:
    if card.get("title"):
        return card
    report = metadata.reports.get(card["report"])
    return {**card, "title": report.data.get("label") if report is not None else None}
