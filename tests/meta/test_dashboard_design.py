"""The dashboard designer's changes: every shipped dashboard saved unchanged is unchanged; cards
are added, changed, moved and removed; roles and refresh set; bad choices refused on their input."""

from __future__ import annotations

from pathlib import Path

import pytest
from werkzeug.datastructures import MultiDict

from app.meta import dashboard_design
from app.meta.yaml_edit import DesignRefused, safe_load

BOARDS = Path(__file__).resolve().parents[2] / "metadata" / "dashboards"
#: each report's columns by name: the figures a card may show (the designer offers the numeric
#: ones; any column of the report serves here)
REPORTS = {
    path.stem: {column["name"]: column["name"] for column in safe_load(path.read_text())["columns"]}
    for path in (BOARDS.parent / "reports").glob("*.yaml")
}
ROLES = ["admin", "hq_manager", "store_manager", "qa", "warehouse_supervisor", "warehouse_clerk"]
EXPIRY = (BOARDS / "expiry.yaml").read_text(encoding="utf-8")


def settings(board, **changes) -> MultiDict:
    values = MultiDict({"label_zh": board.label_zh, "label_en": board.label_en,
                        "refresh_seconds": board.refresh_seconds} | changes)  # fmt: skip
    for role in board.roles:
        values.add("roles", role)
    return values


def card_values(card) -> dict[str, str]:
    return {"report": card.report, "chart": card.chart, "measure": card.measure,
            "width": card.width, "title_zh": card.title_zh, "title_en": card.title_en}  # fmt: skip


@pytest.mark.parametrize("path", sorted(BOARDS.glob("*.yaml")), ids=lambda path: path.stem)
def test_every_shipped_dashboard_saved_unchanged_is_unchanged(path):
    text = path.read_text(encoding="utf-8")
    board = dashboard_design.view(text)
    assert dashboard_design.update_dashboard(text, settings(board), ROLES) == text
    for card in board.cards:
        assert dashboard_design.update_card(text, card.path, card_values(card), REPORTS) == text


def test_cards_roles_and_refresh():
    board = dashboard_design.view(EXPIRY)
    values = settings(board, refresh_seconds="60")
    values.add("roles", "store_manager")
    after = safe_load(dashboard_design.update_dashboard(EXPIRY, values, ROLES))
    assert after["roles"] == ["qa", "store_manager"]
    assert after["refresh_seconds"] == 60
    added = dashboard_design.add_card(EXPIRY, {"report": "stock_on_hand"}, REPORTS)
    assert safe_load(added)["cards"][-1] == {"report": "stock_on_hand", "chart": "table",
                                             "width": 6}  # fmt: skip
    kpi = card_values(board.cards[0]) | {"chart": "kpi", "width": "3", "title_zh": ""}
    changed = safe_load(dashboard_design.update_card(EXPIRY, "0", kpi, REPORTS))["cards"][0]
    assert changed == {"report": "returns_to_ship", "chart": "kpi", "width": 3,
                       "title": {"zh_CN": "Supplier returns awaiting review",
                                 "en": "Supplier returns awaiting review"}}  # fmt: skip
    moved = dashboard_design.move_card(EXPIRY, "2", -1)
    assert [card.report for card in dashboard_design.view(moved).cards] == [
        "returns_to_ship", "expired_lots", "near_expiry"
    ]  # fmt: skip
    assert "expired_lots" not in dashboard_design.remove_card(EXPIRY, "2")


def test_a_card_shows_the_figure_chosen_until_its_report_changes():
    kpi = card_values(dashboard_design.view(EXPIRY).cards[0]) | {"chart": "kpi"}
    figure = dashboard_design.update_card(EXPIRY, "0", kpi | {"measure": "quantity"}, REPORTS)
    card = safe_load(figure)["cards"][0]
    assert (card["chart"], card["measure"]) == ("kpi", "quantity")
    assert list(card)[:3] == ["report", "chart", "measure"]
    assert dashboard_design.view(figure).cards[0].measure == "quantity"
    # the default again: the key goes
    back = dashboard_design.update_card(figure, "0", kpi | {"measure": ""}, REPORTS)
    assert "measure" not in safe_load(back)["cards"][0]
    # another report: the figure of the one before goes with it
    other = kpi | {"report": "stock_on_hand", "measure": "quantity"}
    moved = safe_load(dashboard_design.update_card(figure, "0", other, REPORTS))["cards"][0]
    assert moved["report"] == "stock_on_hand" and "measure" not in moved


@pytest.mark.parametrize(
    ("changes", "field"),
    [({"report": "no_such_report"}, "report"), ({"chart": "radar"}, "chart"),
     ({"width": "5"}, "width"), ({"measure": "no_such_column"}, "measure")],
)  # fmt: skip
def test_a_bad_card_is_refused_on_its_input(changes, field):
    card = card_values(dashboard_design.view(EXPIRY).cards[0])
    with pytest.raises(DesignRefused) as refused:
        dashboard_design.update_card(EXPIRY, "0", card | changes, REPORTS)
    assert refused.value.field == field


def test_bad_refresh_and_the_last_card():
    board = dashboard_design.view(EXPIRY)
    with pytest.raises(DesignRefused) as refused:
        dashboard_design.update_dashboard(EXPIRY, settings(board, refresh_seconds="5"), ROLES)
    assert refused.value.field == "refresh_seconds"
    single = dashboard_design.remove_card(dashboard_design.remove_card(EXPIRY, "2"), "1")
    with pytest.raises(DesignRefused, match="at least one card"):
        dashboard_design.remove_card(single, "0")
