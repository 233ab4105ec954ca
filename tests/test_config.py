"""Settings come from LIANKU_* variables with safe defaults; the secret key is never committed."""

import datetime as dt
from pathlib import Path

import pytest

from app import create_app
from app.config import load_settings
from app.db import clock_at
from app.kernel import items
from app.meta import expressions


def test_defaults_put_sqlite_and_a_generated_secret_under_instance(tmp_path, monkeypatch):
    for name in ("LIANKU_DATABASE_URL", "LIANKU_SECRET_KEY", "LIANKU_LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings({"INSTANCE_PATH": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'lianku.db'}"
    key_file = tmp_path / "secret_key"
    assert key_file.read_text() == settings.secret_key
    assert len(settings.secret_key) >= 32
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert load_settings({"INSTANCE_PATH": str(tmp_path)}).secret_key == settings.secret_key
    assert settings.log_level == "INFO"


def test_environment_variables_override_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("LIANKU_DATABASE_URL", "postgresql://u@h/db")
    monkeypatch.setenv("LIANKU_SECRET_KEY", "from-env")
    monkeypatch.setenv("LIANKU_LOG_LEVEL", "debug")
    settings = load_settings({"INSTANCE_PATH": str(tmp_path)})
    assert settings.database_url == "postgresql://u@h/db"
    assert settings.secret_key == "from-env"
    assert settings.log_level == "DEBUG"
    assert not (tmp_path / "secret_key").exists()


def test_instance_folder_is_ignored_by_git():
    gitignore = (Path(__file__).parent.parent / ".gitignore").read_text().splitlines()
    assert "instance/" in gitignore


def test_an_unknown_time_zone_is_refused_naming_the_setting(tmp_path):
    with pytest.raises(ValueError, match="LIANKU_TIMEZONE: 'Asia/Shangai' is not a time zone"):
        load_settings({"INSTANCE_PATH": str(tmp_path), "TIMEZONE": "Asia/Shangai"})


@pytest.fixture
def business_timezone_restored():
    previous = items.business_timezone()
    yield
    items.use_business_timezone(previous.key)


@pytest.mark.parametrize("value", ["0", "-5", "1h", "2.5"])
def test_a_job_time_limit_that_is_not_whole_seconds_is_refused_naming_the_setting(tmp_path, value):
    with pytest.raises(ValueError, match=f"LIANKU_JOB_TIME_LIMIT: '{value}' is not a whole"):
        load_settings({"INSTANCE_PATH": str(tmp_path), "JOB_TIME_LIMIT": value})


def test_the_configured_time_zone_is_the_business_day_of_the_kernel_and_the_forms(
    app_config, business_timezone_restored
):
    """03:00 UTC on 2 March is still 1 March in New York: the kernel's business day (expiry,
    FEFO, the stock page) and a form's ``today()`` follow ``LIANKU_TIMEZONE``, as reports do."""
    app = create_app({**app_config, "TIMEZONE": "America/New_York"})
    moment = dt.datetime(2026, 3, 2, 3, 0, tzinfo=dt.UTC)
    with clock_at(moment):
        assert items.business_today() == dt.date(2026, 3, 1)
        assert items.business_now().strftime("%H:%M") == "22:00"
        assert expressions.compile_expression("today()", []).evaluate({}) == dt.date(2026, 3, 1)
    app.extensions["lianku.db"].dispose()
    create_app(app_config).extensions["lianku.db"].dispose()
    with clock_at(moment):
        assert items.business_today() == dt.date(2026, 3, 2)
