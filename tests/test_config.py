"""Production refuses unsafe settings at start-up; an unknown WEBAPP_ENV is a clear error."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from webapp import create_app
from webapp.config import ConfigError

ROOT = Path(__file__).resolve().parent.parent
SAFE = {
    "DATABASE_URL": "postgresql+psycopg://app:pw@db.example:5432/qinqing",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "SECRET_KEY": "a-long-random-production-secret",
}


@pytest.fixture
def env(monkeypatch):
    """A production environment with every safe setting; tests take one away."""
    monkeypatch.setenv("WEBAPP_ENV", "production")
    for key in ("RATELIMIT_STORAGE_URI", *SAFE):
        monkeypatch.delenv(key, raising=False)
    for key, value in SAFE.items():
        monkeypatch.setenv(key, value)
    return monkeypatch


def test_production_with_every_setting_starts(env):
    """The safe production environment builds an app on PostgreSQL with Redis limits."""
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == SAFE["DATABASE_URL"]
    assert app.config["RATELIMIT_STORAGE_URI"] == SAFE["REDIS_URL"]
    assert app.config["SECRET_KEY"] == SAFE["SECRET_KEY"]
    assert app.config["SESSION_COOKIE_SECURE"] is True


@pytest.mark.parametrize("missing", sorted(SAFE))
def test_production_without_a_setting_stops_naming_it(env, missing):
    """DATABASE_URL, REDIS_URL and SECRET_KEY are each required (no silent fallback)."""
    env.delenv(missing)
    with pytest.raises(ConfigError) as err:
        create_app()
    assert missing in str(err.value)
    assert "未设置" in str(err.value)


def test_production_refuses_sqlite(env):
    """A SQLite DATABASE_URL is refused in production."""
    env.setenv("DATABASE_URL", "sqlite:////tmp/prod.sqlite")
    with pytest.raises(ConfigError, match="DATABASE_URL 不能使用 SQLite"):
        create_app()


def test_production_does_not_generate_a_secret_key(env):
    """Without SECRET_KEY production stops before writing instance/secret_key."""
    env.delenv("SECRET_KEY")
    key_file = ROOT / "instance" / "secret_key"
    before = key_file.stat().st_mtime_ns if key_file.exists() else None
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app()
    assert (key_file.stat().st_mtime_ns if key_file.exists() else None) == before


@pytest.mark.parametrize("name", ["prod", "Production", ""])
def test_unknown_webapp_env_names_the_valid_ones(monkeypatch, name):
    """WEBAPP_ENV=prod is a ConfigError listing development, testing and production."""
    monkeypatch.setenv("WEBAPP_ENV", name or " ")
    with pytest.raises(ConfigError) as err:
        create_app()
    text = str(err.value)
    assert "WEBAPP_ENV" in text
    assert all(valid in text for valid in ("development", "testing", "production"))


def test_flask_command_stops_with_the_message():
    """The operator's `flask --app webapp` exits non-zero with the Chinese message, no KeyError."""
    env = {k: v for k, v in os.environ.items() if k not in SAFE}
    env.update(WEBAPP_ENV="production", REDIS_URL=SAFE["REDIS_URL"],
               SECRET_KEY=SAFE["SECRET_KEY"])
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "webapp", "routes"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "DATABASE_URL" in done.stderr and "生产环境" in done.stderr
    env["WEBAPP_ENV"] = "prod"
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "webapp", "routes"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0
    assert "WEBAPP_ENV" in done.stderr and "KeyError" not in done.stderr
