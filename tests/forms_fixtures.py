"""Fixtures for the generated forms: an app whose metadata also holds the ``field_lab`` form
(every field type and rule), a signed-in client whose JSON calls carry the CSRF header, and a
small organisation."""

from __future__ import annotations

import shutil
from functools import cache
from pathlib import Path

import pytest

from app import create_app
from app.kernel.locations import add_location
from app.kernel.users import User
from app.meta.identity import update_user
from tests.conftest import PROJECT_ROOT, csrf_token

FORMS = Path(__file__).parent / "web" / "forms"
WORKFLOWS = Path(__file__).parent / "web" / "workflows"


@pytest.fixture
def lab_config(app_config, tmp_path):
    shutil.copytree(PROJECT_ROOT / "metadata", tmp_path / "metadata")
    shutil.copytree(PROJECT_ROOT / "workflows", tmp_path / "workflows")
    for path in FORMS.glob("*.yaml"):
        shutil.copy(path, tmp_path / "metadata" / "forms" / path.name)
    for path in WORKFLOWS.glob("*.yaml"):
        shutil.copy(path, tmp_path / "workflows" / path.name)
    return {
        **app_config,
        "METADATA_DIR": str(tmp_path / "metadata"),
        "WORKFLOWS_DIR": str(tmp_path / "workflows"),
    }


PASSWORD = "pw-lab"


@cache
def _password_hash() -> str:
    """Argon2 is slow on purpose; hash the shared test password once per run."""
    user = User()
    user.set_password(PASSWORD)
    return user.password_hash


def appoint(db, username: str, role: str, location_id: int) -> int:
    """Give ``username`` (made if new, with the tests' password) ``role`` at ``location_id``;
    their id."""
    from sqlalchemy import select

    with db.transaction() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            user = User(username=username, full_name=username.title(), locale="en")
            user.password_hash = _password_hash()
            session.add(user)
            session.flush()
        update_user(session, user, roles=[role], location_ids=[location_id])
        return user.id


@pytest.fixture
def lab_app(db, lab_config):
    application = create_app(lab_config)
    application.config["TESTING"] = True
    yield application
    application.extensions["lianku.db"].dispose()


@pytest.fixture
def org(lab_app):
    """HQ, a region and two stores; an admin at HQ and a store clerk at S1."""
    database = lab_app.extensions["lianku.db"]
    with database.transaction() as session:
        hq = add_location(session, "HQ", "总部", "hq")
        region = add_location(session, "R1", "华东", "region", hq)
        s1 = add_location(session, "S1", "一号店", "store", region)
        s2 = add_location(session, "S2", "二号店", "store", region)
        users = {}
        for name in ("admin", "clerk"):
            user = User(username=name, full_name=f"{name.title()} User", locale="en")
            user.password_hash = _password_hash()
            session.add(user)
            users[name] = user
        session.flush()
        # roles and locations as identity gives them: the admin at HQ, the clerk at store S1
        update_user(session, users["admin"], roles=["admin"], location_ids=[hq.id])
        update_user(session, users["clerk"], roles=["store_clerk"], location_ids=[s1.id])
        return {"hq": hq.id, "s1": s1.id, "s2": s2.id, **{k: u.id for k, u in users.items()}}


class ApiClient:
    """A test client signed in through the login form; writes send ``X-CSRFToken``."""

    def __init__(self, client):
        self.client = client
        self.token = None

    def login(self, username: str, password: str):
        page = self.client.get("/login")
        self.client.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": csrf_token(page.text)},
        )
        self.token = csrf_token(self.client.get("/login").text)
        return self

    def _headers(self, headers=None):
        return {"X-CSRFToken": self.token, **(headers or {})}

    def get(self, url, **kwargs):
        return self.client.get(url, **kwargs)

    def post(self, url, json=None, headers=None, **kwargs):
        return self.client.post(url, json=json, headers=self._headers(headers), **kwargs)

    def put(self, url, json=None, headers=None):
        return self.client.put(url, json=json, headers=self._headers(headers))

    def delete(self, url, headers=None):
        return self.client.delete(url, headers=self._headers(headers))

    def form(self, url, data):
        return self.client.post(url, data={**data, "csrf_token": self.token})


@pytest.fixture
def api(lab_app, org):
    return ApiClient(lab_app.test_client()).login("admin", PASSWORD)
