"""Settings for tests that never come from the shell or `.env`.

A test run in a shell set up for another app, or for production (`REDIS_URL`,
`STACKKIT_SMTP_URL` or `DATABASE_REPLICA_URLS` exported, or written in the `.env`),
must not reach those servers: its counters, sessions and mail would mix with theirs.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from stackkit.settings import ENV_FILE_VARIABLE, Settings, env_name

__all__ = ["app_environment", "isolated_settings", "settings_variables"]


class _GivenOnly(Settings):
    """`Settings` read from the values given and the defaults alone."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings,)


def isolated_settings(**values: Any) -> Settings:
    """Settings from `values` and the defaults, never from the environment or `.env`:
    `isolated_settings(env="test", database_url=...)`."""
    return _GivenOnly(**values)


def settings_variables() -> frozenset[str]:
    """Every environment variable the settings read."""
    return frozenset(env_name(field) for field in Settings.model_fields)


def app_environment(**values: str) -> dict[str, str]:
    """The environment of an app a test starts in a process of its own (`stackkit run`):
    this one's, without any of the settings' variables, with `values` added, and no
    `.env` read."""
    variables = settings_variables()
    environment = {key: value for key, value in os.environ.items() if key not in variables}
    return environment | {ENV_FILE_VARIABLE: ""} | values
