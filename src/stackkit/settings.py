"""Application settings, read from the environment and a `.env` file.

Four names are unprefixed because deployment platforms know them (or, for the
replicas, their like): `DATABASE_URL`, `DATABASE_REPLICA_URLS`, `REDIS_URL` and
`SECRET_KEY`. Every other setting is prefixed
`STACKKIT_` (for example `STACKKIT_ENV`, `STACKKIT_CORS_ORIGINS`).
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import secrets
from pathlib import Path
from typing import Annotated, Any, Literal

from croniter import croniter  # type: ignore[import-untyped]
from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from stackkit.rates import PERIODS, parse_limits

__all__ = [
    "ENV_FILE_VARIABLE",
    "Settings",
    "SettingsError",
    "env_file",
    "env_name",
    "load_settings",
]

logger = logging.getLogger("stackkit.settings")

MIN_SECRET_KEY_LENGTH = 32
MIN_SECRET_KEY_DISTINCT_CHARACTERS = 12
_EXAMPLE_SECRET_MARKERS = (
    "change-me",
    "changeme",
    "change_me",
    "example",
    "placeholder",
    "insecure",
    "your-secret",
    "your_secret",
    "secret-key",
    "secret_key",
)
_ORIGIN = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+\Z")


class SettingsError(Exception):
    """Settings are invalid. The message names every bad field, one per line;
    `problems` lists them as (environment variable or file, message) pairs."""

    def __init__(self, message: str, problems: list[tuple[str, str]] | None = None) -> None:
        super().__init__(message)
        self.problems = list(problems or [])


class Settings(BaseSettings):
    """Configuration of a stackkit app.

    Build it with `load_settings()` to get one readable `SettingsError` instead
    of pydantic's `ValidationError`. Fields can also be passed by name, which
    tests do: `Settings(env="test", redis_url="redis://...")`.
    """

    model_config = SettingsConfigDict(
        env_prefix="STACKKIT_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        validate_by_name=True,
        validate_by_alias=True,
        frozen=True,
    )

    env: Literal["development", "test", "production"] = "development"
    """`production` turns on the strict checks (a strong `SECRET_KEY`, no `*` CORS origin)
    and keeps internal error detail out of responses."""

    database_url: str = Field(
        default="sqlite+aiosqlite:///./stackkit.db", validation_alias="DATABASE_URL"
    )
    """SQLAlchemy URL of the primary database. Plain `postgresql://` and `sqlite:///`
    URLs are accepted and mapped to the async drivers (psycopg 3, aiosqlite)."""

    database_replica_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list, validation_alias="DATABASE_REPLICA_URLS"
    )
    """Read replicas of the primary, comma-separated. Read-only units of work go to them."""

    database_replica_lag_window: float = Field(default=5.0, ge=0)
    """Seconds after a write during which its writer, and readers of the path it wrote,
    read from the primary: so that a user reads back what they wrote, and no stale
    replica answer fills the cache. Keep it above the replicas' worst lag; 0: no marks
    (a write request still reads from the primary throughout)."""

    database_pool_size: int = Field(default=10, gt=0)
    """Connections each PostgreSQL engine keeps open (and as many again at peaks)."""

    database_connect_timeout: float = Field(default=5.0, gt=0)
    """Seconds before a database server that does not answer counts as down (503)."""

    database_statement_timeout: float = Field(default=30.0, gt=0)
    """Seconds a PostgreSQL statement may run before it is cancelled (503)."""

    redis_url: str = Field(default="", validation_alias="REDIS_URL")
    """`redis://`, `rediss://` or `unix://` URL. Empty: in-process stores, no Redis."""

    redis_cluster: bool = False
    """`REDIS_URL` names one node of a Redis Cluster (the client finds the others)."""

    redis_timeout: float = Field(default=0.5, gt=0)
    """Seconds to wait for Redis to connect or answer one command. Past it the command
    fails at once, without retries, and the app goes on without Redis for that request
    (see the outages in docs/caching.md): raise it only for a Redis that is far away."""

    secret_key: SecretStr = Field(
        default=SecretStr(""), validation_alias="SECRET_KEY", validate_default=True
    )
    """Key that signs tokens and cursors. Development and tests: generated per process
    when unset (tokens then die with the process). Production: required and strong."""

    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Origins allowed to call the API from a browser, comma-separated. Empty: same origin only."""

    access_token_ttl: int = Field(default=900, gt=0)
    """Lifetime of an access token, in seconds (default 15 minutes)."""

    session_ttl: int = Field(default=86_400, gt=0)
    """Lifetime of a refresh session past its last refresh, in seconds (default 24 hours)."""

    session_max_lifetime: int = Field(default=30 * 86_400, gt=0)
    """Longest a refresh session lives however often it is refreshed (default 30 days)."""

    secret_key_fallbacks: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    """Earlier values of `SECRET_KEY`, comma-separated: access tokens (HS256) and refresh
    tokens they made still verify. Keep one until the sessions to keep have refreshed
    once (a day), then drop it; dropping it at once ends every session."""

    jwt_algorithm: Literal["HS256", "RS256", "ES256", "EdDSA"] = "HS256"
    """Algorithm of access tokens. HS256 signs with a key derived from `SECRET_KEY`; the
    others with `STACKKIT_JWT_PRIVATE_KEY_FILE`."""

    jwt_private_key_file: Path | None = None
    """PEM private key that signs access tokens (RS256: RSA >= 2048 bits; ES256: P-256;
    EdDSA: Ed25519)."""

    jwt_public_key_files: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    """PEM public keys of earlier signing keys, comma-separated: their tokens still verify."""

    jwt_issuer: str = Field(default="stackkit", min_length=1)
    """`iss` of access tokens, required when they are verified."""

    jwt_audience: str = Field(default="stackkit", min_length=1)
    """`aud` of access tokens, required when they are verified."""

    session_check_fail_open: bool = True
    """When the session store (Redis) does not answer, accept an access token on its
    signature and expiry alone, so that an outage does not sign everyone out; a token
    whose session was ended before then works until it expires
    (`STACKKIT_ACCESS_TOKEN_TTL`). False: such requests get 503, and revocation stays immediate."""

    registration_open: bool = True
    """Anyone may register an account (`POST /api/auth/register`); false: 403 there."""

    email_verification: bool = False
    """Prove that users read their address: a link is mailed on registration, and
    registration answers 202 whether or not the email has an account. Off: every
    account counts as verified."""

    require_verified_email: bool = False
    """An account whose email is not verified cannot sign in (403); turns
    `STACKKIT_EMAIL_VERIFICATION` on. False: it signs in, and only routes declared
    `verified=True` refuse it."""

    require_2fa_for: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Roles that count only with two-factor sign-in on, comma-separated (`admin`): a
    user who holds one without it signs in without it (their tokens and API keys do
    not carry it) until they turn two-factor sign-in on. Empty: no role needs it."""

    refresh_cookie_secure: bool = True
    """Mark the refresh cookie `Secure` (sent over HTTPS and to localhost only)."""

    public_url: str = "http://localhost:8000"
    """Where users reach the app; links in emails (password reset) start with it."""

    smtp_url: SecretStr = SecretStr("")
    """`smtp://user:password@host:587?starttls=true` or `smtps://...:465`. Empty: emails
    are logged in development, and not sent in production."""

    mail_from: str = "stackkit@localhost"
    """Sender address of the app's emails."""

    audit_retention_days: int = Field(default=365, ge=0)
    """Days the audit log keeps an event (`stackkit.auth.audit`); a daily job of the
    app's queue deletes older ones. 0: keep them all."""

    backup_schedule: str = ""
    """When a job worker backs the database up (cron: minute, hour, day, month, weekday,
    like `30 3 * * *`); empty: never (the systemd timer, or cron, may do it instead)."""

    backup_dir: str = "backups"
    """Folder of those back-ups, relative to the project's folder unless absolute."""

    backup_keep: int = Field(default=14, ge=1)
    """Back-ups the periodic job keeps; the oldest beyond go."""

    cache_ttl: int = Field(default=300, ge=0)
    """How long API responses stay cached, in seconds (default 5 minutes; 0 disables)."""

    cache_prefix: str = "stackkit:cache:"
    """Put before every cache key in Redis: give each app sharing a Redis its own."""

    cache_max_entries: int = Field(default=10_000, gt=0)
    """Responses the in-memory cache keeps (least recently used evicted beyond)."""

    rate_limit: str = "100/minute"
    """Default rate limit per client: `100/minute`, or several windows `10/second;1000/hour`."""

    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """Addresses or networks (comma-separated, like `10.0.0.0/8`) of the proxies whose
    `X-Forwarded-For` the rate limiter believes. Empty: the connection's address."""

    max_body_size: int = Field(default=1_048_576, gt=0)
    """Largest accepted request body, in bytes; larger bodies get 413."""

    storage_url: str = "uploads"
    """Where the uploads of file fields are kept: a folder (relative to where the app
    runs), or `s3://bucket/prefix` for an S3-compatible object store, whose
    credentials botocore finds (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    `AWS_REGION`, or a role)."""

    s3_endpoint_url: str = ""
    """The object store's address when it is not AWS S3 (MinIO: `http://minio:9000`)."""

    access_log: bool = True
    """Log one line per request (method, path, status, duration, request id). It costs
    about a third of the throughput of a trivial endpoint; turn it off where the load
    balancer already logs requests."""

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    """Level of the `stackkit` loggers."""

    log_format: Literal["auto", "json", "text"] = "auto"
    """`json` (one object per line), `text`, or `auto`: json in production, text elsewhere."""

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_log_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("database_url")
    @classmethod
    def _async_database_url(cls, value: str) -> str:
        return normalize_database_url(value)

    @field_validator(
        "database_replica_urls",
        "cors_origins",
        "trusted_proxies",
        "require_2fa_for",
        "secret_key_fallbacks",
        "jwt_public_key_files",
        mode="before",
    )
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        """Lists come from the environment comma-separated: `a, b` -> `["a", "b"]`."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("database_replica_urls")
    @classmethod
    def _async_replica_urls(cls, value: list[str]) -> list[str]:
        return [normalize_database_url(url) for url in value]

    @property
    def verifies_email(self) -> bool:
        """Whether email addresses are verified (`email_verification`, or required)."""
        return self.email_verification or self.require_verified_email

    @field_validator("backup_schedule")
    @classmethod
    def _cron(cls, value: str) -> str:
        value = " ".join(value.split())
        if value and not is_cron_schedule(value):
            raise ValueError("must be a cron schedule of five fields, like '30 3 * * *'")
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str) -> str:
        value = value.strip()
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix:// (or be empty)")
        return value

    @field_validator("secret_key")
    @classmethod
    def _strong_secret_in_production(cls, value: SecretStr, info: ValidationInfo) -> SecretStr:
        key = value.get_secret_value()
        refusal = secret_key_refusal(key, production=info.data.get("env") == "production")
        if refusal:
            raise ValueError(refusal)
        if key:
            return value
        generated = secrets.token_urlsafe(48)
        _GENERATED_KEYS.add(generated)
        return SecretStr(generated)

    @field_validator("secret_key_fallbacks")
    @classmethod
    def _fallbacks_sign(cls, value: list[SecretStr]) -> list[SecretStr]:
        for key in value:
            if len(key.get_secret_value()) < MIN_SECRET_KEY_LENGTH:
                raise ValueError(
                    f"each key needs at least {MIN_SECRET_KEY_LENGTH} characters (it signs tokens)"
                )
        return value

    @field_validator("cors_origins")
    @classmethod
    def _valid_origins(cls, value: list[str], info: ValidationInfo) -> list[str]:
        # Browsers send the scheme and host in lower case; compare them that way.
        origins = [origin.rstrip("/").lower() for origin in value]
        for origin in origins:
            if origin == "*":
                if info.data.get("env") == "production":
                    raise ValueError("'*' is refused in production: list the allowed origins")
            elif not _ORIGIN.match(origin):
                raise ValueError(f"{origin!r} is not an origin like https://example.com")
        return origins

    @field_validator("jwt_private_key_file")
    @classmethod
    def _key_file_for_asymmetric(cls, value: Path | None, info: ValidationInfo) -> Path | None:
        if value is None and info.data.get("jwt_algorithm", "HS256") != "HS256":
            raise ValueError(
                f"is required when STACKKIT_JWT_ALGORITHM={info.data['jwt_algorithm']}"
            )
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_networks(cls, value: list[str]) -> list[str]:
        for network in value:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ValueError(f"{network!r} is not an address or network") from None
        return value

    @field_validator("rate_limit")
    @classmethod
    def _rate_limit_format(cls, value: str) -> str:
        try:
            parse_limits(value)
        except ValueError:
            raise ValueError(
                f"{value!r} is not like '100/minute' or '10/second;1000/hour' "
                f"(periods: {', '.join(PERIODS)})"
            ) from None
        return value.replace(" ", "")


def is_cron_schedule(value: str) -> bool:
    """Whether `value` is a schedule the job workers follow: five cron fields (minute,
    hour, day, month, weekday) and an optional sixth of seconds, read by croniter, the
    parser procrastinate's workers use."""
    return len(value.split()) in (5, 6) and bool(croniter.is_valid(value))


def normalize_database_url(url: str) -> str:
    """Map a plain database URL onto the async driver stackkit uses.

    Raises:
        ValueError: the scheme is neither PostgreSQL nor SQLite.
    """
    url = url.strip()
    scheme, separator, rest = url.partition("://")
    if not separator:
        raise ValueError("is not a URL like postgresql://user@host/db or sqlite:///app.db")
    driver_for = {
        "postgresql": "postgresql+psycopg",
        "postgres": "postgresql+psycopg",
        "postgresql+psycopg": "postgresql+psycopg",
        "postgresql+psycopg_async": "postgresql+psycopg_async",
        "sqlite": "sqlite+aiosqlite",
        "sqlite+aiosqlite": "sqlite+aiosqlite",
    }
    if scheme not in driver_for:
        raise ValueError(f"scheme {scheme!r} is not supported (use postgresql:// or sqlite:///)")
    return f"{driver_for[scheme]}://{rest}"


def secret_key_refusal(key: str, *, production: bool) -> str | None:
    """Why the settings refuse `key` as `SECRET_KEY`, or None: the one rule that
    `stackkit check` reports and that every command (`stackkit run` too) applies.

    Everywhere, a key shorter than `MIN_SECRET_KEY_LENGTH` is refused: tokens
    cannot be signed with it (HS256 needs 32 bytes). In production a key is also
    required, and refused if `secret_key_weakness` finds it weak; elsewhere an
    empty key stands for a random one per process.
    """
    if not key:
        return "is required when STACKKIT_ENV=production" if production else None
    if production:
        problem = secret_key_weakness(key)  # its length among the rest
        return f"is too weak for production: {problem}" if problem else None
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return (
            f"is too short: it has {len(key)} characters, at least {MIN_SECRET_KEY_LENGTH} "
            "are needed to sign tokens"
        )
    return None


def secret_key_weakness(key: str) -> str | None:
    """Say why `key` is too weak to sign production tokens, or return None."""
    lowered = key.lower()
    if any(marker in lowered for marker in _EXAMPLE_SECRET_MARKERS):
        return "it looks like an example value"
    if len(key) < MIN_SECRET_KEY_LENGTH:
        return f"it has {len(key)} characters, at least {MIN_SECRET_KEY_LENGTH} are needed"
    if len(set(key)) < MIN_SECRET_KEY_DISTINCT_CHARACTERS:
        return "it repeats too few distinct characters"
    return None


_GENERATED_KEYS: set[str] = set()
"""The random keys made for settings without a `SECRET_KEY` (unset, or set empty)."""


ENV_FILE_VARIABLE = "STACKKIT_ENV_FILE"
"""Names the file of settings read besides the environment: `.env` when unset, none
when empty (an app that takes its settings from the environment alone)."""


def env_file() -> str | None:
    """The file `load_settings()` reads (see `ENV_FILE_VARIABLE`), or None."""
    return os.environ.get(ENV_FILE_VARIABLE, ".env") or None


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment and `.env` (or the file `STACKKIT_ENV_FILE`
    names, or none when it is empty), with `overrides` taking precedence.

    Raises:
        SettingsError: one or more values are invalid; the message names each one.
    """
    # `.env` may be absent, but a file named on purpose must be there (a typo).
    named = os.environ.get(ENV_FILE_VARIABLE)
    if named and not Path(named).is_file():
        problem = f"names {named}, which is not a file"
        raise SettingsError(
            f"Invalid settings: {ENV_FILE_VARIABLE} {problem}.", [(ENV_FILE_VARIABLE, problem)]
        )
    path = env_file()
    try:
        settings = Settings(_env_file=path, **overrides)
    except ValidationError as error:
        problems = _problems(error)
        raise SettingsError(_describe(problems), problems) from None
    except UnicodeDecodeError:  # only a file read can raise it: `path` is one
        raise SettingsError(
            f"Invalid settings: {path} is not UTF-8 text.", [(str(path), "is not UTF-8 text")]
        ) from None
    if settings.env == "development" and settings.secret_key.get_secret_value() in _GENERATED_KEYS:
        logger.warning(
            "SECRET_KEY is not set: using a random key for this process; "
            "tokens will not survive a restart. Set SECRET_KEY to keep them."
        )
    return settings


def _problems(error: ValidationError) -> list[tuple[str, str]]:
    problems = []
    for item in error.errors(include_url=False, include_input=False):
        field = str(item["loc"][0]) if item["loc"] else ""
        problems.append((env_name(field), item["msg"].removeprefix("Value error, ")))
    return problems


def _describe(problems: list[tuple[str, str]]) -> str:
    count = len(problems)
    heading = f"Invalid settings ({count} problem{'s' if count != 1 else ''}):"
    return "\n".join([heading, *(f"  {name}: {message}" for name, message in problems)])


def env_name(field: str) -> str:
    """The environment variable a user sets for `field` (which may already be an alias)."""
    info = Settings.model_fields.get(field)
    if info is None:
        return field if field.isupper() else f"STACKKIT_{field.upper()}"
    if isinstance(info.validation_alias, str):
        return info.validation_alias
    return f"STACKKIT_{field.upper()}"
