"""The dashboard designer's changes to a dashboard: its cards — which report, drawn as which
chart with which of its figures, how wide, under which title — added, ordered and removed; its
label, the roles whose home page it is and how often it refreshes — set in a form, not typed.

Each change is made to the text being edited (``yaml_edit``), so the preview (the cards laid
out), the checks and the version diff work as for a typed change. A card's report parameters
stay the YAML's (the designer names them and keeps them). Cards are addressed by position.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ruamel.yaml import CommentedMap, CommentedSeq

from app.i18n import _
from app.meta import yaml_edit
from app.meta.yaml_edit import DesignRefused

CHARTS = ("table", "kpi", "bar", "stacked_bar", "line", "pie", "donut")
WIDTHS = (3, 4, 6, 8, 12)
DASHBOARD_KEYS = ("name", "label", "roles", "refresh_seconds", "cards")
CARD_KEYS = ("report", "chart", "measure", "width", "title", "params")


@dataclass
class Card:
    path: str
    report: str
    chart: str
    #: "" when the card does not say (the report's chart's figure, else its first)
    measure: str
    #: "" when the card does not say (the whole page wide)
    width: str
    title_zh: str
    title_en: str
    other_keys: list[str]


@dataclass
class DashboardView:
    label_zh: str
    label_en: str
    roles: list[str]
    refresh_seconds: str
    cards: list[Card]


def parse(text: str) -> CommentedMap:
    document = yaml_edit.parse(text, _("The YAML is not a dashboard: it must map cards:."))
    if not isinstance(document.get("cards"), CommentedSeq):
        document["cards"] = CommentedSeq()
    return document


def view(text: str) -> DashboardView:
    document = parse(text)
    cards = []
    for index, raw in enumerate(document["cards"]):
        if isinstance(raw, dict):
            title = yaml_edit.label_of({"label": raw.get("title")})
            cards.append(Card(str(index), str(raw.get("report", "")), str(raw.get("chart", "")),
                              str(raw.get("measure") or ""), str(raw.get("width") or ""), *title,
                              [key for key in raw if key not in CARD_KEYS[:5]]))  # fmt: skip
    return DashboardView(
        *yaml_edit.label_of(document), yaml_edit.names_of(document, "roles"),
        str(document.get("refresh_seconds") or ""), cards,
    )  # fmt: skip


def update_dashboard(text: str, values, roles: list[str]) -> str:
    """The label, the roles whose home page it is (``values.getlist("roles")``) and the refresh
    interval in seconds."""
    document = parse(text)
    name = str(document.get("name", ""))
    yaml_edit.set_label(document, "label", values.get("label_zh", ""), values.get("label_en", ""),
                        name, DASHBOARD_KEYS)  # fmt: skip
    ticked = values.getlist("roles")
    written = yaml_edit.names_of(document, "roles")
    chosen = [role for role in written if role in ticked]
    chosen += [role for role in roles if role in ticked and role not in chosen]
    if chosen != written:
        value = yaml_edit.flow_seq(chosen) if chosen else None
        yaml_edit.set_or_drop(document, "roles", value, DASHBOARD_KEYS)
    refresh = values.get("refresh_seconds", "").strip()
    if refresh and (not refresh.isdigit() or not 10 <= int(refresh) <= 3600):
        raise DesignRefused(_("Refresh every 10 to 3600 seconds, or leave it empty."),
                            "refresh_seconds")  # fmt: skip
    value = int(refresh) if refresh else None
    yaml_edit.set_or_drop(document, "refresh_seconds", value, DASHBOARD_KEYS)
    return yaml_edit.dump(document, text)


def update_card(text: str, path: str, values: Mapping[str, str], figures) -> str:
    """Set a card's report, chart, figure, width and title; a figure of the report the card
    showed before is dropped with it."""
    document = parse(text)
    cards, index = _locate(document, path)
    _set_card(cards[index], values, figures)
    return yaml_edit.dump(document, text)


def add_card(text: str, values: Mapping[str, str], figures) -> str:
    """A card at the end: the report chosen, as a table half the page wide unless said."""
    document = parse(text)
    card = CommentedMap()
    _set_card(card, {"chart": "table", "width": "6"} | dict(values.items()), figures)
    document["cards"].append(card)
    return yaml_edit.dump(document, text)


def move_card(text: str, path: str, step: int) -> str:
    document = parse(text)
    return yaml_edit.moved(document, *_locate(document, path), step, text)


def remove_card(text: str, path: str) -> str:
    document = parse(text)
    last = _("A dashboard keeps at least one card.")
    return yaml_edit.removed(document, *_locate(document, path), text, last)


def _set_card(card: CommentedMap, values: Mapping[str, str], figures) -> None:
    """``figures``: each report's figure columns by name (the reports a card may show)."""
    report, chart = values.get("report", ""), values.get("chart", "")
    if report not in figures:
        raise DesignRefused(_("Choose the report the card shows."), "report")
    if chart not in CHARTS:
        raise DesignRefused(_("Choose how the card draws the report."), "chart")
    measure = values.get("measure", "") if report == card.get("report") else ""
    if measure and measure not in figures[report]:
        raise DesignRefused(_("Choose one of the report's figures."), "measure")
    width = values.get("width", "")
    if width and (not width.isdigit() or int(width) not in WIDTHS):
        raise DesignRefused(_("Choose the card's width."), "width")
    yaml_edit.set_or_drop(card, "report", report, CARD_KEYS)
    yaml_edit.set_or_drop(card, "chart", chart, CARD_KEYS)
    yaml_edit.set_or_drop(card, "measure", measure or None, CARD_KEYS)
    yaml_edit.set_or_drop(card, "width", int(width) if width else None, CARD_KEYS)
    zh, en = values.get("title_zh", ""), values.get("title_en", "")
    yaml_edit.set_label(card, "title", zh, en, None, CARD_KEYS)


def _locate(document: CommentedMap, path: str) -> tuple[CommentedSeq, int]:
    stale = _("That card is no longer where the designer saw it; look again and repeat.")
    return document["cards"], yaml_edit.at(document["cards"], path, stale)
