"""Admins edit the role dashboards live: a card changed is on the role's home page at its next
request; a card naming a report that does not exist is refused with its line."""

from __future__ import annotations

from tests.forms_fixtures import PASSWORD, ApiClient

ADMIN = "/admin/dashboards"


def store_board(app) -> str:
    return app.extensions["lianku.registry"].metadata.dashboards["store"].text


def test_a_card_changed_is_on_the_roles_home_page(api, lab_app, org):
    clerk = ApiClient(lab_app.test_client()).login("clerk", PASSWORD)
    assert "Sales today" in clerk.get("/").text
    edited = store_board(lab_app).replace("en: Sales today}", "en: Takings today}")
    check = api.form(f"{ADMIN}/store/check", {"yaml": edited})
    assert "No problems found." in check.text and "Takings today" in check.text
    assert "Store clerk" in check.text  # whose home page it is, by the role's label
    assert api.form(f"{ADMIN}/store/publish", {"yaml": edited}).status_code == 302
    home = clerk.get("/").text
    assert "Takings today" in home and "Sales today" not in home
    assert "<td>v2" in api.get(f"{ADMIN}/store/versions").text


def test_a_card_naming_no_report_is_refused(api, lab_app):
    broken = store_board(lab_app).replace("report: sales_today", "report: sales_todya")
    response = api.form(f"{ADMIN}/store/publish", {"yaml": broken})
    assert response.status_code == 422
    assert "dashboards/store.yaml:6 cards[0].report: unknown report &#39;sales_todya&#39;" in (
        response.text
    )


def test_a_new_dashboard_and_only_admins(api, lab_app, org):
    text = (
        "name: lab_board\nlabel: {zh_CN: 实验看板, en: Lab board}\nroles: [store_clerk]\n"
        "cards:\n  - {report: near_expiry, chart: table, width: 12,"
        " title: {zh_CN: 近效期, en: Soon to expire}}\n"
    )
    assert api.form(f"{ADMIN}/new", {"name": "lab_board", "yaml": text}).status_code == 302
    assert "Lab board" in api.get(f"{ADMIN}/").text
    clerk = ApiClient(lab_app.test_client()).login("clerk", PASSWORD)
    assert clerk.get(f"{ADMIN}/").status_code == 403
    assert clerk.form(f"{ADMIN}/store/publish", {"yaml": text}).status_code == 403
