"""Configuration: environment variables with safe defaults, resolved in one place.

Every setting can be overridden by the ``config`` mapping given to ``create_app`` (tests do this);
otherwise it comes from the ``LIANKU_*`` environment variable, otherwise from the default here.
"""

from __future__ import annotations

import os
import secrets
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    """The settings Lianku reads; one attribute per ``LIANKU_*`` variable."""

    instance_path: Path
    database_url: str
    secret_key: str
    log_level: str = "INFO"
    metadata_dir: Path = PROJECT_ROOT / "metadata"
    workflows_dir: Path = PROJECT_ROOT / "workflows"
    form_templates_dir: Path = PROJECT_ROOT / "form_templates"
    default_locale: str = "zh_CN"
    #: The business time zone: report date buckets and "today" follow it.
    timezone: str = "Asia/Shanghai"
    secure_cookies: bool = False
    #: Seconds a job may run in ``lianku worker`` before it is failed and the worker restarts
    #: (a job kind may declare its own limit).
    job_time_limit: int = 3600
    extra: dict = field(default_factory=dict)


def _secret_key(instance_path: Path) -> str:
    """Read the secret key from ``instance/secret_key``, creating it once when absent.

    The file lives outside version control (``instance/`` is git-ignored) so no secret is ever
    committed, and it survives restarts so sessions stay valid.
    """
    key_file = instance_path / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    key_file.write_text(key)
    key_file.chmod(0o600)
    return key


def load_settings(overrides: dict | None = None) -> Settings:
    """Build the settings from ``overrides``, then the environment, then the defaults."""
    overrides = dict(overrides or {})
    env = os.environ

    def pick(name: str, default: str | None = None) -> str | None:
        if name in overrides:
            return overrides.pop(name)
        return env.get(f"LIANKU_{name}", default)

    instance_path = Path(pick("INSTANCE_PATH") or PROJECT_ROOT / "instance").resolve()
    database_url = pick("DATABASE_URL") or f"sqlite:///{instance_path / 'lianku.db'}"
    secret_key = pick("SECRET_KEY") or _secret_key(instance_path)
    settings = Settings(
        instance_path=instance_path,
        database_url=database_url,
        secret_key=secret_key,
        log_level=(pick("LOG_LEVEL", "INFO") or "INFO").upper(),
        metadata_dir=Path(pick("METADATA_DIR") or PROJECT_ROOT / "metadata"),
        workflows_dir=Path(pick("WORKFLOWS_DIR") or PROJECT_ROOT / "workflows"),
        form_templates_dir=Path(pick("FORM_TEMPLATES_DIR") or PROJECT_ROOT / "form_templates"),
        default_locale=pick("DEFAULT_LOCALE", "zh_CN") or "zh_CN",
        timezone=_time_zone(pick("TIMEZONE", "Asia/Shanghai") or "Asia/Shanghai"),
        secure_cookies=str(pick("SECURE_COOKIES", "0")).lower() in {"1", "true", "yes"},
        job_time_limit=_seconds("JOB_TIME_LIMIT", pick("JOB_TIME_LIMIT", "3600") or "3600"),
        extra=overrides,
    )
    return settings


def _time_zone(name: str) -> str:
    """``name`` if it is a time zone this machine knows; refuse it at start-up otherwise, rather
    than count expiry and the business day in some other zone."""
    try:
        zoneinfo.ZoneInfo(name)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        raise ValueError(
            f"LIANKU_TIMEZONE: {name!r} is not a time zone; use an IANA name such as Asia/Shanghai"
        ) from None
    return name


def _seconds(name: str, value) -> int:
    """A whole number of seconds above zero; refused at start-up naming the variable."""
    try:
        seconds = int(value)
    except (TypeError, ValueError):
        seconds = 0
    if seconds <= 0:
        raise ValueError(f"LIANKU_{name}: {value!r} is not a whole number of seconds above zero")
    return seconds
