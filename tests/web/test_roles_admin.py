"""Admins edit the roles and their rights live: a right taken away is refused from the next
request on, in every worker; a role people hold cannot be removed, nor the last administrator's
rights; the preview draws who may do what."""

from __future__ import annotations

from app.kernel.audit import AuditEntry
from tests.forms_fixtures import PASSWORD, ApiClient
from tests.web.test_forms_api import URL, valid

EDIT = "/admin/roles/roles"
#: how the store clerk's forms end in roles.yaml
CLERK_FORMS = 'till_deposit: [read, create, update, "transition:submit", "transition:cancel"]}'


def shipped(app) -> str:
    return app.extensions["lianku.registry"].metadata.roles_document.text


def read_only_lab(app) -> str:
    """The shipped roles, with the store clerk only reading field_lab records."""
    text = shipped(app)
    assert CLERK_FORMS in text
    read_only = CLERK_FORMS.replace("]}", "],\n            field_lab: [read]}")
    return text.replace(CLERK_FORMS, read_only)


def test_a_right_taken_away_is_refused_at_the_next_request(api, lab_app, org):
    clerk = ApiClient(lab_app.test_client()).login("clerk", PASSWORD)
    assert clerk.post(URL, json=valid(org)).status_code == 201

    check = api.form(f"{EDIT}/check", {"yaml": read_only_lab(lab_app)}).text
    assert "No problems found." in check and 'id="rights-matrix"' in check
    row = check[check.index("Field lab</th>") :].split("</tr>")[0]
    assert '<td class="text-nowrap font-monospace">R</td>' in row  # the clerk: read only now
    assert api.form(f"{EDIT}/publish", {"yaml": read_only_lab(lab_app)}).status_code == 302

    refused = clerk.post(URL, json=valid(org, title="Beta"))
    assert refused.status_code == 403
    assert clerk.get(URL).status_code == 200  # still reads

    assert api.form(f"{EDIT}/versions/1/rollback", {}).status_code == 302
    assert clerk.post(URL, json=valid(org, title="Gamma")).status_code == 201
    with lab_app.extensions["lianku.db"].session() as session:
        publishes = (
            session.query(AuditEntry)
            .filter_by(action="publish", entity="roles")
            .order_by(AuditEntry.id)
            .all()
        )
        assert [entry.changes["version"] for entry in publishes] == [[1, 2], [2, 3]]


TRAINEE = """  trainee:
    label: {zh_CN: 实习生, en: Trainee}
    scope: own
    read_only: true
    forms: {"*": [read]}
"""


def test_a_role_people_hold_cannot_go_nor_the_last_administrator(api, lab_app, org):
    from app.kernel.users import UserRole

    text = shipped(lab_app)
    with_trainee = text.replace("roles:\n", "roles:\n" + TRAINEE, 1)
    assert api.form(f"{EDIT}/publish", {"yaml": with_trainee}).status_code == 302
    with lab_app.extensions["lianku.db"].transaction() as session:
        session.add(UserRole(user_id=org["clerk"], role="trainee"))
    response = api.form(f"{EDIT}/publish", {"yaml": text})
    assert response.status_code == 409
    assert "1 users hold the role &#39;trainee&#39;; take it from them first" in response.text

    no_admin = with_trainee.replace("    admin: true\n", "", 1)
    response = api.form(f"{EDIT}/publish", {"yaml": no_admin})
    assert response.status_code == 409
    assert "no active user would hold a role with admin rights" in response.text


def test_a_broken_text_is_refused_with_its_line_and_only_admins_edit(api, lab_app, org):
    broken = shipped(lab_app).replace("scope: own", "scope: mine", 1)
    response = api.form(f"{EDIT}/publish", {"yaml": broken})
    assert response.status_code == 422
    assert "roles.yaml:" in response.text and "&#39;mine&#39; is not allowed" in response.text
    assert api.get("/admin/roles/new").status_code == 404  # one file: edited, never added
    assert "Roles and rights" in api.get("/admin/roles/").text
    clerk = ApiClient(lab_app.test_client()).login("clerk", PASSWORD)
    assert clerk.get(f"{EDIT}/edit").status_code == 403
    assert clerk.form(f"{EDIT}/publish", {"yaml": shipped(lab_app)}).status_code == 403
