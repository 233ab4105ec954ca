"""Settings come from LIANKU_* variables with safe defaults; the secret key is never committed."""

from pathlib import Path

from app.config import load_settings


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
