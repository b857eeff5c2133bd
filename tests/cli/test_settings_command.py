from __future__ import annotations

import pytest
from click.testing import CliRunner

from stackkit import __version__
from stackkit.cli import cli


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> CliRunner:
    monkeypatch.chdir(tmp_path)  # type: ignore[arg-type]
    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "STACKKIT_ENV"):
        monkeypatch.delenv(name, raising=False)
    return CliRunner()


def test_version(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"stackkit, version {__version__}"


def test_settings_prints_values_with_secrets_hidden(runner: CliRunner) -> None:
    key = "q8Vw2-LmZr7xKp4TnYb9HcJd6FgUe3Ns5AoWi1Rt"
    result = runner.invoke(
        cli, ["settings"], env={"SECRET_KEY": key, "DATABASE_URL": "postgresql://u@db/app"}
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "DATABASE_URL=postgresql+psycopg://u@db/app" in lines
    assert "SECRET_KEY=********" in lines
    assert "STACKKIT_CACHE_TTL=300" in lines
    assert key not in result.output


def test_settings_hides_the_auth_secrets(runner: CliRunner) -> None:
    fallback = "an-earlier-secret-key-of-forty-characters"
    env = {
        "STACKKIT_SECRET_KEY_FALLBACKS": fallback,
        "STACKKIT_SMTP_URL": "smtp://mailer:hunter2-pass@mail.example.com:587",
    }
    result = runner.invoke(cli, ["settings"], env=env)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert "STACKKIT_SMTP_URL=smtp://mailer:********@mail.example.com:587" in lines
    assert "STACKKIT_SECRET_KEY_FALLBACKS=**********" in lines
    assert "STACKKIT_JWT_PRIVATE_KEY_FILE=" in lines
    assert fallback not in result.output
    assert "hunter2" not in result.output


def test_invalid_settings_exit_1_naming_each_field(runner: CliRunner) -> None:
    result = runner.invoke(
        cli, ["settings"], env={"STACKKIT_ENV": "production", "REDIS_URL": "memcached://x"}
    )
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "Error: Invalid settings (2 problems):" in result.output
    assert "  REDIS_URL: must start with redis://" in result.output
    assert "  SECRET_KEY: is required when STACKKIT_ENV=production" in result.output


def test_settings_hide_passwords_in_urls(runner: CliRunner) -> None:
    result = runner.invoke(
        cli,
        ["settings"],
        env={
            "DATABASE_URL": "postgresql://app:S3cretPassw0rd@db/app",
            "DATABASE_REPLICA_URLS": "postgresql://app:R3plicaPass@replica/app",
            "REDIS_URL": "redis://:R3disPass@cache:6379/0",
        },
    )
    assert result.exit_code == 0, result.output
    for secret in ("S3cretPassw0rd", "R3plicaPass", "R3disPass"):
        assert secret not in result.output
    assert "DATABASE_URL=postgresql+psycopg://app:********@db/app" in result.output.splitlines()
