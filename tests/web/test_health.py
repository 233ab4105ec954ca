"""/healthz reports the database, the migration head and the metadata."""

from app.migrate import head_revision


def test_healthz_is_ok_on_a_migrated_database(client, db):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["migrations"] == {
        "ok": True,
        "current": head_revision(db.engine),
        "head": head_revision(db.engine),
    }
    assert body["checks"]["metadata"]["forms"] >= 2


def test_healthz_is_503_on_an_unmigrated_database(app_config, tmp_path):
    from app import create_app

    app = create_app({**app_config, "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}"})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["checks"]["migrations"]["current"] is None


def test_every_response_carries_a_request_id(client):
    response = client.get("/healthz", headers={"X-Request-ID": "abc123"})
    assert response.headers["X-Request-ID"] == "abc123"
    assert len(client.get("/healthz").headers["X-Request-ID"]) == 32
