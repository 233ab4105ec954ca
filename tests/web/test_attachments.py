"""Attachment fields: upload a file, name it in a record, and it is as private as the record."""

from __future__ import annotations

import hashlib
import io

import pytest

from app.meta.attachments import MAX_BYTES
from tests.forms_fixtures import PASSWORD, ApiClient
from tests.web.test_forms_api import URL, valid

PDF = b"%PDF-1.4\n% a licence scan\n%%EOF\n"


def upload(api, content=PDF, name="licence.pdf"):
    return api.post("/api/v1/attachments", data={"file": (io.BytesIO(content), name)},
                    content_type="multipart/form-data")  # fmt: skip


def test_upload_then_attach_then_download(api, org):
    uploaded = upload(api)
    assert uploaded.status_code == 201, uploaded.json
    file = uploaded.json
    assert file["filename"] == "licence.pdf"
    assert file["size"] == len(PDF)
    assert file["sha256"] == hashlib.sha256(PDF).hexdigest()
    created = api.post(URL, json=valid(org, photo=file["id"]))
    assert created.status_code == 201, created.json
    assert created.json["data"]["photo"] == file["id"]
    download = api.get(file["url"])
    assert download.status_code == 200
    assert download.data == PDF
    assert "attachment; filename=licence.pdf" in download.headers["Content-Disposition"]
    page = api.get(f"/forms/field_lab/{created.json['id']}")
    assert f'<a href="{file["url"]}">licence.pdf</a>' in page.text


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        (b"<script>alert(1)</script>", "page.html", "cannot be attached"),
        (b"", "empty.pdf", "empty"),
        (b"x", "no-extension", "cannot be attached"),
    ],
)
def test_rejected_uploads_name_the_file_field(api, content, name, message):
    response = upload(api, content, name)
    assert response.status_code == 400
    assert list(response.json["errors"]) == ["file"]
    assert message in response.json["error"]


def test_too_large_upload_is_refused(api, monkeypatch):
    monkeypatch.setattr("app.meta.attachments.MAX_BYTES", 10)
    monkeypatch.setattr("app.meta.attachments.store.__defaults__", (10,))
    response = upload(api, b"%PDF" + b"0" * 20)
    assert response.status_code == 400
    assert "larger than" in response.json["error"]
    assert MAX_BYTES > 10


def test_someone_elses_upload_or_another_records_file_cannot_be_used(lab_app, api, org):
    clerk = ApiClient(lab_app.test_client()).login("clerk", PASSWORD)
    mine = upload(api).json
    refused = clerk.post(URL, json=valid(org, title="Clerk", photo=mine["id"]))
    assert refused.status_code == 422
    assert list(refused.json["errors"]) == ["photo"]
    assert "belongs to another record" in refused.json["errors"]["photo"][0]
    first = api.post(URL, json=valid(org, title="First", photo=mine["id"])).json
    second = api.post(URL, json=valid(org, title="Second", photo=mine["id"]))
    assert second.status_code == 422
    assert list(second.json["errors"]) == ["photo"]
    # the record that holds it may keep it on update
    kept = api.put(f"{URL}/{first['id']}", json={"photo": mine["id"], "version": first["version"]})
    assert kept.status_code == 200, kept.json


def test_a_file_is_as_private_as_its_record(lab_app, api, org):
    """The clerk of S1 reads S1's records and their files, not S2's."""
    clerk = ApiClient(lab_app.test_client()).login("clerk", PASSWORD)
    in_s2 = upload(api, name="s2.pdf").json
    in_b = api.post(URL, json=valid(org, title="Bravo", location=org["s2"], photo=in_s2["id"]))
    assert in_b.status_code == 201, in_b.json
    in_s1 = upload(api, name="s1.pdf").json
    record = api.post(URL, json=valid(org, title="Charlie", photo=in_s1["id"]))
    assert record.status_code == 201
    assert clerk.get(f"{URL}/{record.json['id']}").status_code == 200
    assert clerk.get(in_s2["url"]).status_code == 404
    assert clerk.get(f"/api/v1/attachments/{in_s2['id']}").status_code == 404
    assert clerk.get(in_s1["url"]).status_code == 200
    unclaimed = upload(api, name="draft.pdf").json
    assert clerk.get(unclaimed["url"]).status_code == 404  # only its uploader, until claimed
    assert api.get(unclaimed["url"]).status_code == 200


def test_a_read_only_role_may_not_upload(lab_app, org, db):
    from app.kernel.users import User
    from app.meta.identity import update_user

    with db.transaction() as session:
        auditor = User(username="auditor", full_name="Auditor", locale="en")
        auditor.set_password(PASSWORD)
        session.add(auditor)
        session.flush()
        update_user(session, auditor, roles=["auditor"], location_ids=[org["hq"]])
    client = ApiClient(lab_app.test_client()).login("auditor", PASSWORD)
    assert upload(client).status_code == 403
