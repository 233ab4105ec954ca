"""A company's customizations as one package: exported as a zip laid out like the repository,
imported elsewhere as a whole — checked together, all of it or nothing, unchanged texts left
alone."""

from __future__ import annotations

import io
import zipfile

from app.meta.models import FormVersion, OptionListVersion
from tests.forms_fixtures import PASSWORD, ApiClient
from tests.web.test_options_admin import COURIER_LOG

PAGE = "/admin/package"
CARRIERS = """name: carriers
label: {zh_CN: 承运商, en: Carriers}
options:
  - {value: sf, label: {zh_CN: 顺丰冷运, en: SF cold chain}}
"""


def package(**entries: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zipped:
        for name, text in entries.items():
            zipped.writestr(name, text)
    return buffer.getvalue()


def upload(api, data: bytes, note: str = ""):
    return api.client.post(
        f"{PAGE}/import",
        data={"csrf_token": api.token, "note": note, "file": (io.BytesIO(data), "p.zip")},
        content_type="multipart/form-data",
    )


def count(lab_app, model) -> int:
    with lab_app.extensions["lianku.db"].session() as session:
        return session.query(model).filter_by(status="published").count()


def test_a_new_list_and_the_form_naming_it_arrive_together(api, lab_app, org):
    courier = COURIER_LOG.replace("options: transport_modes", "options: carriers")
    data = package(**{"metadata/options/carriers.yaml": CARRIERS,
                      "metadata/forms/courier_log.yaml": courier})  # fmt: skip
    response = upload(api, data, note="from the test system")
    assert response.status_code == 200, response.text
    assert "option_list carriers v1" in response.text and "form courier_log v1" in response.text
    created = api.post("/api/v1/forms/courier_log/records",
                       json={"location": org["s1"], "transport": "sf"})  # fmt: skip
    assert created.status_code == 201, created.json

    exported = api.get(f"{PAGE}/export")
    assert exported.headers["Content-Type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(exported.data)).namelist()
    assert {"metadata/options/carriers.yaml", "metadata/forms/courier_log.yaml",
            "lianku-package.json"} <= set(names)  # fmt: skip
    again = upload(api, exported.data)  # what is live already: nothing to publish
    assert "changes nothing" in again.text
    assert count(lab_app, OptionListVersion) == 1 and count(lab_app, FormVersion) == 1


def test_one_bad_file_or_one_refusal_publishes_nothing(api, lab_app, org):
    courier = COURIER_LOG.replace("options: transport_modes", "options: carriers")
    data = package(**{"metadata/forms/courier_log.yaml": courier})  # the list is missing
    response = upload(api, data)
    assert response.status_code == 422
    assert "unknown option list &#39;carriers&#39;" in response.text
    assert count(lab_app, FormVersion) == 0

    api.form("/admin/forms/new", {"name": "courier_log", "yaml": COURIER_LOG})
    held = {"location": org["s1"], "transport": "ambient"}
    assert api.post("/api/v1/forms/courier_log/records", json=held).status_code == 201
    shipped = lab_app.extensions["lianku.registry"].metadata.option_lists["transport_modes"].text
    ambient = "  - {value: ambient, label: {zh_CN: 常温运输, en: Ambient}}\n"
    data = package(**{"metadata/options/transport_modes.yaml": shipped.replace(ambient, ""),
                      "metadata/options/carriers.yaml": CARRIERS})  # fmt: skip
    response = upload(api, data)
    assert response.status_code == 409
    assert "1 records of courier_log hold &#39;ambient&#39; in transport" in response.text
    assert count(lab_app, OptionListVersion) == 0  # not even the new list


def test_entries_that_are_no_definition_are_refused_by_name(api):
    response = upload(api, package(**{"metadata/secrets.txt": "x"}))
    assert response.status_code == 409
    assert "metadata/secrets.txt: not a definition a package may hold" in response.text
    assert upload(api, b"not a zip").status_code == 409


def test_only_admins_move_packages(lab_app, org):
    clerk = ApiClient(lab_app.test_client()).login("clerk", PASSWORD)
    assert clerk.get(f"{PAGE}/export").status_code == 403
    assert upload(clerk, package()).status_code == 403
