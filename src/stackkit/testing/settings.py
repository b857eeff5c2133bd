"""Settings for tests that never come from the shell or `.env`.

A test run in a shell set up for another app, or for production (`REDIS_URL`,
`STACKKIT_SMTP_URL` or `DATABASE_REPLICA_URLS` exported, or written in the `.env`),
must not reach those servers: its counters, sessions and mail would mix with theirs.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from stackkit.settings import ENV_FILE_VARIABLE, Settings, env_name

__all__ = [
    "app_environment",
    "clear_settings_environment",
    "is_setting",
    "isolated_settings",
    "settings_variables",
]


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


@cache
def settings_variables() -> frozenset[str]:
    """Every environment variable the settings read, in capitals (they are read in any
    case): `STACKKIT_<FIELD>` for each field, and the alias of those that have one
    (`REDIS_URL`, also read as `STACKKIT_REDIS_URL`)."""
    prefixed = {f"STACKKIT_{field.upper()}" for field in Settings.model_fields}
    return frozenset(prefixed | {env_name(field).upper() for field in Settings.model_fields})


def is_setting(variable: str) -> bool:
    """Whether the settings read the environment variable `variable`."""
    return variable.upper() in settings_variables()


def clear_settings_environment() -> None:
    """Take every settings variable out of this process's environment, and read no
    `.env`: for a conftest, before it imports an app module that builds its app."""
    for variable in [name for name in os.environ if is_setting(name)]:
        del os.environ[variable]
    os.environ[ENV_FILE_VARIABLE] = ""


def app_environment(**values: str) -> dict[str, str]:
    """The environment of an app a test starts in a process of its own (`stackkit run`):
    this one's, without any of the settings' variables, with `values` added, and no
    `.env` read."""
    environment = {key: value for key, value in os.environ.items() if not is_setting(key)}
    return environment | {ENV_FILE_VARIABLE: ""} | values
