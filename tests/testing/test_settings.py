"""Tests take their settings from what they give, never from the shell or `.env`."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stackkit import Settings
from stackkit.settings import ENV_FILE_VARIABLE, SettingsError, load_settings
from stackkit.testing import app_environment, isolated_settings
from stackkit.testing.settings import clear_settings_environment

PRODUCTION = {
    "DATABASE_URL": "postgresql://app@db.internal/app",
    "STACKKIT_SECRET_KEY": "a-production-key-read-under-its-prefixed-name-too",
    "stackkit_cache_prefix": "production-lower-case:",
    "DATABASE_REPLICA_URLS": "postgresql://app@replica.internal/app",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "STACKKIT_SMTP_URL": "smtp://mail.internal:25",
    "STACKKIT_RATE_LIMIT": "1/hour",
}
"""A shell, or a `.env`, set up for production."""


@pytest.fixture
def in_production_shell(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_isolated_settings_read_neither_the_environment_nor_dotenv(
    in_production_shell: Path,
) -> None:
    (in_production_shell / ".env").write_text("STACKKIT_ACCESS_TOKEN_TTL=60\n")
    read = Settings(env="test")
    assert (read.redis_url, read.access_token_ttl) == (PRODUCTION["REDIS_URL"], 60)
    isolated = isolated_settings(env="test", database_url="sqlite:///test.db")
    assert isinstance(isolated, Settings)
    assert isolated.database_url == "sqlite+aiosqlite:///test.db"
    assert isolated.database_replica_urls == []
    assert isolated.redis_url == ""
    assert isolated.smtp_url.get_secret_value() == ""
    assert isolated.rate_limit == Settings.model_fields["rate_limit"].default
    assert isolated.cache_prefix == Settings.model_fields["cache_prefix"].default
    assert isolated.access_token_ttl == Settings.model_fields["access_token_ttl"].default


def test_an_apps_process_gets_none_of_the_shells_settings(in_production_shell: Path) -> None:
    read = Settings(env="test")  # every variable of PRODUCTION is one the settings read
    assert read.secret_key.get_secret_value() == PRODUCTION["STACKKIT_SECRET_KEY"]
    assert read.cache_prefix == PRODUCTION["stackkit_cache_prefix"]
    environment = app_environment(REDIS_URL="redis://127.0.0.1:6390/0")
    assert not set(PRODUCTION) - {"REDIS_URL"} & set(environment)
    assert environment["REDIS_URL"] == "redis://127.0.0.1:6390/0"
    assert environment[ENV_FILE_VARIABLE] == ""  # nor the project's .env
    assert environment["PATH"]  # the rest of the shell is kept


def test_a_conftest_clears_the_shells_settings_before_the_app_module_loads(
    in_production_shell: Path,
) -> None:
    (in_production_shell / ".env").write_text("STACKKIT_RATE_LIMIT=garbage\n")
    before = dict(os.environ)
    try:
        clear_settings_environment()
        assert not set(PRODUCTION) & set(os.environ)
        settings = load_settings()
        assert settings.redis_url == ""
        assert settings.rate_limit == Settings.model_fields["rate_limit"].default
    finally:
        os.environ.clear()
        os.environ.update(before)


def test_the_env_file_variable_names_the_file_or_none(
    in_production_shell: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in PRODUCTION:
        monkeypatch.delenv(name)
    (in_production_shell / ".env").write_text("STACKKIT_CACHE_PREFIX=dotenv:\n")
    (in_production_shell / "app.env").write_text("STACKKIT_CACHE_PREFIX=named:\n")
    assert load_settings().cache_prefix == "dotenv:"
    monkeypatch.setenv(ENV_FILE_VARIABLE, "app.env")
    assert load_settings().cache_prefix == "named:"
    monkeypatch.setenv(ENV_FILE_VARIABLE, "")
    assert load_settings().cache_prefix == Settings.model_fields["cache_prefix"].default
    monkeypatch.setenv(ENV_FILE_VARIABLE, "app.env.typo")
    with pytest.raises(SettingsError, match=r"STACKKIT_ENV_FILE names app.env.typo, which is"):
        load_settings()
    (in_production_shell / "latin1.env").write_bytes(b"STACKKIT_CACHE_PREFIX=caf\xe9\n")
    monkeypatch.setenv(ENV_FILE_VARIABLE, "latin1.env")
    with pytest.raises(SettingsError, match=r"^Invalid settings: latin1.env is not UTF-8 text"):
        load_settings()
