"""A workflow test bed: the shipped metadata plus ``cold_receipt`` (a form whose workflow uses
the example plugin's ``check_temperature``, conditions, signatures and segregation of duties),
a small organisation with a clerk, managers and an HQ manager, and a lot-tracked item."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app import create_app
from app.kernel.items import add_item
from app.kernel.locations import add_location
from app.kernel.users import User
from app.meta.identity import update_user
from tests.conftest import PROJECT_ROOT
from tests.forms_fixtures import PASSWORD, ApiClient, _password_hash

HERE = Path(__file__).parent


@pytest.fixture
def wf_app(db, app_config, tmp_path):
    shutil.copytree(PROJECT_ROOT / "metadata", tmp_path / "metadata")
    shutil.copytree(PROJECT_ROOT / "workflows", tmp_path / "workflows")
    for path in (HERE / "forms").glob("*.yaml"):
        shutil.copy(path, tmp_path / "metadata" / "forms" / path.name)
    for path in (HERE / "workflows").glob("*.yaml"):
        shutil.copy(path, tmp_path / "workflows" / path.name)
    config = {
        **app_config,
        "METADATA_DIR": str(tmp_path / "metadata"),
        "WORKFLOWS_DIR": str(tmp_path / "workflows"),
    }
    application = create_app(config)
    application.config["TESTING"] = True
    yield application
    application.extensions["lianku.db"].dispose()


USERS = {  # username → (role, location code)
    "clerk": ("store_clerk", "S1"),
    "clerk2": ("store_clerk", "S1"),
    "manager": ("store_manager", "S1"),
    "deputy": ("store_manager", "S1"),
    "manager2": ("store_manager", "S2"),
    "hq": ("hq_manager", "HQ"),
    "auditor": ("auditor", "HQ"),
    "qa": ("qa", "HQ"),
}


@pytest.fixture
def wf_org(wf_app):
    database = wf_app.extensions["lianku.db"]
    with database.transaction() as session:
        hq = add_location(session, "HQ", "总部", "hq")
        region = add_location(session, "R1", "华东", "region", hq)
        locations = {
            "HQ": hq,
            "R1": region,
            "S1": add_location(session, "S1", "一号店", "store", region),
            "S2": add_location(session, "S2", "二号店", "store", region),
        }
        ids = {code: location.id for code, location in locations.items()}
        for username, (role, code) in USERS.items():
            user = User(username=username, full_name=f"{username.title()} Full", locale="en")
            user.password_hash = _password_hash()
            session.add(user)
            session.flush()
            update_user(session, user, roles=[role], location_ids=[locations[code].id])
            ids[username] = user.id
        ids["item"] = add_item(session, "VAC-1", "Vaccine carrier", tracking="lot").id
        return ids


@pytest.fixture
def wf_api(wf_app, wf_org):
    """``wf_api("clerk")`` → an API client signed in as that user."""

    def make(username: str) -> ApiClient:
        return ApiClient(wf_app.test_client()).login(username, PASSWORD)

    return make
