"""`stackkit settings`: validate the configuration the app would start with, and show it."""

from __future__ import annotations

import click
from pydantic import SecretStr

from stackkit.settings import Settings, SettingsError, env_name, load_settings

__all__ = ["settings_command"]

_HIDDEN = "********"
_URL_FIELDS = frozenset({"database_url", "database_replica_urls", "redis_url", "smtp_url"})


def hide_password(url: str) -> str:
    """`postgresql://app:s3cret@db/app` -> `postgresql://app:********@db/app`."""
    scheme, separator, rest = url.partition("://")
    credentials, at, location = rest.rpartition("@")
    if not separator or not at or ":" not in credentials:
        return url
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}:{_HIDDEN}@{location}"


@click.command("settings")
def settings_command() -> None:
    """Check the settings from the environment and .env, and print them (secrets hidden).

    Exits with status 1 and names every invalid setting when any is wrong.
    """
    try:
        settings = load_settings()
    except SettingsError as error:
        raise click.ClickException(str(error)) from None
    for name, value in describe(settings):
        click.echo(f"{name}={value}")


def describe(settings: Settings) -> list[tuple[str, str]]:
    """Each setting as its environment variable name and a printable value."""
    rows = []
    for field in Settings.model_fields:
        name = env_name(field)
        value = getattr(settings, field)
        if field == "secret_key":
            shown = _HIDDEN if "secret_key" in settings.model_fields_set else "(generated)"
        elif field in _URL_FIELDS:
            urls = value if isinstance(value, list) else [value]
            shown = ",".join(hide_password(_plain(url)) for url in urls)
        elif isinstance(value, list):
            # Secrets in a list (SECRET_KEY fallbacks) print as pydantic masks them.
            shown = ",".join(str(item) for item in value)
        else:
            shown = "" if value is None else str(value)
        rows.append((name, shown))
    return rows


def _plain(value: object) -> str:
    return value.get_secret_value() if isinstance(value, SecretStr) else str(value)
