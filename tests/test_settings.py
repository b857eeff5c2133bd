from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from stackkit.settings import Settings, SettingsError, load_settings, secret_key_weakness

STRONG_KEY = "q8Vw2-LmZr7xKp4TnYb9HcJd6FgUe3Ns5AoWi1Rt"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: pytest.TempPathFactory) -> None:
    """Isolate from the developer's environment and any .env in the working directory."""
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]
    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name in list(os.environ):
        if name.startswith("STACKKIT_") and not name.startswith("STACKKIT_TEST_"):
            monkeypatch.delenv(name)


def test_defaults_are_embedded_sqlite_and_in_memory_cache() -> None:
    settings = load_settings(env="test")
    assert settings.database_url == "sqlite+aiosqlite:///./stackkit.db"
    assert settings.redis_url == ""
    assert settings.cache_ttl == 300
    assert settings.session_ttl == 86_400
    assert settings.rate_limit == "100/minute"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u@db/app", "postgresql+psycopg://u@db/app"),
        ("postgres://u@db/app", "postgresql+psycopg://u@db/app"),
        ("sqlite:///data/app.db", "sqlite+aiosqlite:///data/app.db"),
        ("postgresql+psycopg://u@db/app", "postgresql+psycopg://u@db/app"),
    ],
    ids=["postgresql", "postgres-alias", "sqlite", "already-async"],
)
def test_plain_database_urls_map_to_async_drivers(given: str, expected: str) -> None:
    assert Settings(env="test", database_url=given).database_url == expected


def test_environment_and_dotenv_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6390/2")
    with open(".env", "w") as dotenv:
        dotenv.write(
            "STACKKIT_CACHE_TTL=60\nSTACKKIT_CORS_ORIGINS=http://localhost:5173, https://app.example.org/\n"
        )
    settings = load_settings(env="test")
    assert settings.redis_url == "redis://127.0.0.1:6390/2"
    assert settings.cache_ttl == 60
    assert settings.cors_origins == ["http://localhost:5173", "https://app.example.org"]


def test_every_bad_field_is_named_in_one_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://root@db/app")
    monkeypatch.setenv("REDIS_URL", "http://cache")
    monkeypatch.setenv("STACKKIT_RATE_LIMIT", "lots")
    monkeypatch.setenv("STACKKIT_ACCESS_TOKEN_TTL", "-5")
    monkeypatch.setenv("STACKKIT_ENV", "staging")
    with pytest.raises(SettingsError) as raised:
        load_settings()
    message = str(raised.value)
    lines = message.splitlines()
    assert lines[0] == "Invalid settings (5 problems):"
    named = sorted(line.split(":")[0].strip() for line in lines[1:])
    assert named == [
        "DATABASE_URL",
        "REDIS_URL",
        "STACKKIT_ACCESS_TOKEN_TTL",
        "STACKKIT_ENV",
        "STACKKIT_RATE_LIMIT",
    ]
    assert "mysql" in message
    assert "Traceback" not in message


def test_development_generates_a_secret_key_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="stackkit.settings"):
        first = load_settings()
    second = load_settings()
    assert len(first.secret_key.get_secret_value()) >= 32
    assert first.secret_key != second.secret_key
    assert any("SECRET_KEY is not set" in record.message for record in caplog.records)


def test_an_empty_secret_key_is_one_not_set(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SECRET_KEY", "")  # as `SECRET_KEY=` in a .env
    with caplog.at_level(logging.WARNING, logger="stackkit.settings"):
        settings = load_settings()
    assert len(settings.secret_key.get_secret_value()) >= 32
    assert any("SECRET_KEY is not set" in record.message for record in caplog.records)
    caplog.clear()
    monkeypatch.setenv("SECRET_KEY", "k" * 40)
    with caplog.at_level(logging.WARNING, logger="stackkit.settings"):
        load_settings()
    assert not any("SECRET_KEY" in record.message for record in caplog.records)


def test_production_requires_a_secret_key() -> None:
    with pytest.raises(SettingsError, match="SECRET_KEY: is required when STACKKIT_ENV=production"):
        load_settings(env="production")


@pytest.mark.parametrize(
    "key",
    [
        "changeme",
        "change-me-please-change-me-please-0123",
        "short-but-random-Zx81",
        "a" * 64,
        "ab" * 40,
    ],
    ids=["example", "example-long", "short", "one-character", "two-characters"],
)
def test_production_refuses_weak_secret_keys(key: str) -> None:
    with pytest.raises(SettingsError, match="SECRET_KEY: is too weak for production"):
        load_settings(env="production", secret_key=key)


def test_production_accepts_a_strong_secret_key() -> None:
    settings = load_settings(env="production", secret_key=STRONG_KEY)
    assert settings.secret_key.get_secret_value() == STRONG_KEY
    assert secret_key_weakness(STRONG_KEY) is None


def test_secret_key_is_not_shown_in_repr() -> None:
    settings = load_settings(env="production", secret_key=STRONG_KEY)
    assert STRONG_KEY not in repr(settings)


def test_production_refuses_wildcard_cors_origin() -> None:
    with pytest.raises(
        SettingsError, match="STACKKIT_CORS_ORIGINS: '\\*' is refused in production"
    ):
        load_settings(env="production", secret_key=STRONG_KEY, cors_origins="*")


def test_cors_origins_must_be_origins() -> None:
    with pytest.raises(SettingsError, match="'localhost:3000' is not an origin"):
        load_settings(env="test", cors_origins="localhost:3000")


def test_rate_limit_may_combine_windows() -> None:
    assert load_settings(env="test", rate_limit="10/second; 1000/hour").rate_limit == (
        "10/second;1000/hour"
    )


def test_trusted_proxies_must_be_addresses_or_networks() -> None:
    settings = load_settings(env="test", trusted_proxies="10.0.0.0/8, 192.0.2.7")
    assert settings.trusted_proxies == ["10.0.0.0/8", "192.0.2.7"]
    with pytest.raises(SettingsError, match=r"STACKKIT_TRUSTED_PROXIES: 'proxy\.local' is not"):
        load_settings(env="test", trusted_proxies="proxy.local")


def test_an_env_file_that_is_not_utf8_is_a_settings_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_bytes(b"STACKKIT_ENV=test\nSECRET_KEY=\xff\xfe\n")
    with pytest.raises(SettingsError, match="not UTF-8") as refused:
        load_settings()
    assert refused.value.problems == [(".env", "is not UTF-8 text")]


def test_a_settings_error_lists_each_problem_as_data() -> None:
    """What `stackkit check` reads, instead of parsing the message."""
    with pytest.raises(SettingsError) as refused:
        load_settings(env="test", trusted_proxies="proxy.local", cache_ttl=-1)
    names = [name for name, _ in refused.value.problems]
    assert sorted(names) == ["STACKKIT_CACHE_TTL", "STACKKIT_TRUSTED_PROXIES"]
    for name, message in refused.value.problems:
        assert f"  {name}: {message}" in str(refused.value)


@pytest.mark.parametrize("env", ["development", "test"])
def test_a_key_too_short_to_sign_is_refused_outside_production_too(env: str) -> None:
    # `stackkit run` could not sign tokens with it: `stackkit check` must say so too.
    with pytest.raises(SettingsError, match="SECRET_KEY: is too short: it has 5 characters"):
        load_settings(env=env, secret_key="short")
    with pytest.raises(SettingsError, match="STACKKIT_SECRET_KEY_FALLBACKS: each key needs"):
        load_settings(env=env, secret_key="k" * 40, secret_key_fallbacks="old")
    assert load_settings(env=env, secret_key="k" * 32).secret_key.get_secret_value() == "k" * 32


@pytest.mark.parametrize(
    ("key", "refused"),
    [
        ("q8Vw2-LmZr7xKp4TnYb9HcJd6FgUe3N", "it has 31 characters, at least 32 are needed"),
        ("q8Vw2-LmZr7xKp4TnYb9HcJd6FgUe3Ns", None),
        ("abcdefghijk" * 3, "it repeats too few distinct characters"),  # 11 distinct
        ("abcdefghijkl" * 3, None),  # 12 distinct
        ("q8Vw2-LmZr7xKp4TnYb9-EXAMPLE-Hc", "it looks like an example value"),
    ],
    ids=["31-characters", "32-characters", "11-distinct", "12-distinct", "example-value"],
)
def test_production_keys_need_32_characters_12_distinct_and_no_example_words(
    key: str, refused: str | None
) -> None:
    if refused is None:
        assert load_settings(env="production", secret_key=key).secret_key.get_secret_value() == key
        return
    with pytest.raises(SettingsError, match="SECRET_KEY: is t"):
        load_settings(env="production", secret_key=key)
    assert secret_key_weakness(key) == refused


@pytest.mark.parametrize(
    ("schedule", "kept"),
    [("", ""), ("30 3 * * *", "30 3 * * *"), (" 0  *  * * 1 ", "0 * * * 1"),
     ("* * * * * */5", "* * * * * */5")],
)  # fmt: skip
def test_a_backup_schedule_is_a_cron_schedule(schedule: str, kept: str) -> None:
    assert load_settings(backup_schedule=schedule).backup_schedule == kept


@pytest.mark.parametrize("schedule", ["daily", "61 * * * *", "* * *", "* * * * * * * *"])
def test_a_backup_schedule_that_is_not_one_is_refused_in_one_line(schedule: str) -> None:
    with pytest.raises(SettingsError, match="STACKKIT_BACKUP_SCHEDULE: must be a cron schedule"):
        load_settings(backup_schedule=schedule)
