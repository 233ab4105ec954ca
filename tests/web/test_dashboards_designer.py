"""The dashboard designer over HTTP: a card added and titled there is on the role's home page
once published; a card shows the figure chosen among its report's; a report that does not exist
is refused on its input."""

from __future__ import annotations

from app.meta.yaml_edit import safe_load
from tests.forms_fixtures import PASSWORD, ApiClient
from tests.web.test_dashboards_admin import store_board
from tests.web.test_forms_designer import new_yaml

DESIGN = "/admin/dashboards/store/design"


def test_a_card_added_in_the_designer_is_on_the_home_page(api, lab_app, org):
    text = store_board(lab_app)
    shown = api.form(DESIGN, {"yaml": text})
    assert shown.status_code == 200 and 'id="card-0"' in shown.text and new_yaml(shown) is None
    added = new_yaml(api.form(DESIGN, {"yaml": text, "op": "add", "report": "near_expiry",
                                       "chart": "table", "width": "12"}))  # fmt: skip
    path = str(text.count("  - report:") + text.count("  - {report:"))
    card = {"report": "near_expiry", "chart": "table", "width": "12", "title_zh": "本店近效期",
            "title_en": "Expiring here"}  # fmt: skip
    titled = new_yaml(api.form(DESIGN, {"yaml": added, "op": "update", "path": path, **card}))
    assert "title: {zh_CN: 本店近效期, en: Expiring here}" in titled
    assert api.form("/admin/dashboards/store/publish", {"yaml": titled}).status_code == 302
    clerk = ApiClient(lab_app.test_client()).login("clerk", PASSWORD)
    assert "Expiring here" in clerk.get("/").text


def test_a_report_that_does_not_exist_is_refused(api, lab_app):
    refused = api.form(DESIGN, {"yaml": store_board(lab_app), "op": "add", "report": "nope",
                                "chart": "table", "width": "6"})  # fmt: skip
    assert new_yaml(refused) is None and "data-refused" in refused.text


def test_a_card_shows_the_figure_chosen_among_its_reports(api, lab_app, org):
    text = store_board(lab_app)
    path = next(str(n) for n, card in enumerate(safe_load(text)["cards"])
                if card["report"] == "till_deposits")  # fmt: skip
    shown = api.form(DESIGN, {"yaml": text})
    row = shown.text.split(f'id="card-{path}"', 1)[1].split("</tr>", 1)[0]
    # the report's figures, labelled, the one the card shows chosen; no text column offered
    assert '<option value="undeposited" selected>Not deposited</option>' in row
    assert '<option value="takings">Cash takings</option>' in row
    assert 'value="store"' not in row.split('name="measure"', 1)[1]
    card = {"report": "till_deposits", "chart": "kpi", "measure": "takings", "width": "4",
            "title_zh": "现金收入", "title_en": "Cash taken"}  # fmt: skip
    changed = new_yaml(api.form(DESIGN, {"yaml": text, "op": "update", "path": path, **card}))
    assert "measure: takings" in changed
    refused = api.form(DESIGN, {"yaml": text, "op": "update", "path": path,
                                **card, "measure": "store"})  # fmt: skip
    assert new_yaml(refused) is None and "figures" in refused.text
    assert api.form("/admin/dashboards/store/publish", {"yaml": changed}).status_code == 302
    clerk = ApiClient(lab_app.test_client()).login("clerk", PASSWORD)
    assert 'data-measure="takings"' in clerk.get("/").text
