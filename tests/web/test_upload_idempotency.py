"""``Idempotency-Key`` on the uploads (an import, an attachment), as on every POST: the same
key and file sent again — encoded afresh, with a new multipart boundary — answers the first
response and writes nothing; the key sent with another file is refused."""

from __future__ import annotations

import io

from sqlalchemy import func, select

from app.kernel.jobs import Job
from app.meta import imports
from app.meta.attachments import Attachment
from tests.web.test_forms_import import IMPORT, lab_records, sheet, titles


def post(api, url, content: bytes, key: str, name="lab.xlsx", **fields):
    data = {"file": (io.BytesIO(content), name), **fields}
    headers = {"Idempotency-Key": key}
    return api.post(url, data=data, headers=headers, content_type="multipart/form-data")


def test_an_import_sent_twice_with_one_key_is_imported_once(lab_app, api, org):
    content = sheet(("Location", "Title"), ("S1", "Alpha")).getvalue()
    first = post(api, IMPORT, content, "import-1")
    again = post(api, IMPORT, content, "import-1")
    assert first.status_code == again.status_code == 201, again.json
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert len(lab_records(lab_app)) == 1
    other = post(api, IMPORT, sheet(("Location", "Title"), ("S1", "Beta")).getvalue(), "import-1")
    assert other.status_code == 422 and other.json["field"] == "Idempotency-Key"
    kept = post(api, IMPORT, content, "import-1", keep_valid="1")  # another request, too
    assert kept.status_code == 422
    assert len(lab_records(lab_app)) == 1


def test_a_refused_import_leaves_its_key_free_for_the_corrected_file(lab_app, api, org):
    refused = post(api, IMPORT, sheet(("Location", "Title"), ("S1", "lower")).getvalue(), "k")
    assert refused.status_code == 422 and "rows[2].title" in refused.json["errors"]
    fixed = post(api, IMPORT, sheet(("Location", "Title"), ("S1", "Upper")).getvalue(), "k")
    assert fixed.status_code == 201 and fixed.json["created"] == 1


def test_a_big_import_sent_twice_with_one_key_queues_one_job(lab_app, api, org, db, monkeypatch):
    monkeypatch.setattr(imports, "DIRECT_ROWS", 2)
    content = sheet(("Location", "Title"), *titles(3)).getvalue()
    first = post(api, IMPORT, content, "big-1")
    again = post(api, IMPORT, content, "big-1")
    assert first.status_code == again.status_code == 202
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 1


def test_an_attachment_sent_twice_with_one_key_is_kept_once(lab_app, api, org, db):
    first = post(api, "/api/v1/attachments", b"%PDF-1.4 licence", "file-1", name="licence.pdf")
    again = post(api, "/api/v1/attachments", b"%PDF-1.4 licence", "file-1", name="licence.pdf")
    assert first.status_code == again.status_code == 201, again.json
    assert again.json["id"] == first.json["id"] and again.headers["Idempotent-Replayed"] == "true"
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Attachment)) == 1
    other = post(api, "/api/v1/attachments", b"%PDF-1.4 other", "file-1", name="licence.pdf")
    assert other.status_code == 422 and other.json["field"] == "Idempotency-Key"


def test_the_uploads_say_they_take_the_key(api, org):
    paths = api.get("/api/v1/openapi.json").json["paths"]
    for path in (IMPORT, "/api/v1/attachments"):
        names = [param["name"] for param in paths[path]["post"]["parameters"]]
        assert names == ["Idempotency-Key"], path
