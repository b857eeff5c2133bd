"""API keys: personal access tokens, for scripts and other services.

A key reads `sk_<id>_<secret>`: the prefix lets secret scanners find one pasted
where it should not be; the id (16 hex digits) is public, names the key in lists
and in the audit log; the secret (43 characters, 256 bits) is shown once, when the
key is made, and only its SHA-256 is kept (a secret this long needs no slow hash).

A key carries some of its owner's roles (none: a plain signed-in user), may expire,
and is refused by every route that changes the account (they ask for a session:
`stackkit.auth.api.signed_in_user`). It is sent as `Authorization: Bearer sk_...`
and read by `ApiKeyBackend`, asked before the access token.

Each request reads the key's record from the store the sessions live in (one read,
as for an access token's session), and the database on a miss; records are kept
`CACHED_FOR` seconds. What would make a kept record wrong writes over it:

- revoking a key, or deleting its owner, leaves `GONE`: refused without a query;
- new roles for the owner, or their account disabled or enabled, leave `STALE` for
  a few seconds: the database is asked every time, and nothing is kept, so a read
  that began before the change cannot put the old record back.

The owner's roles and whether the account is active are read with the key, so a
disabled account's keys stop at once and a key never holds a role its owner lost.
When the store does not answer, the database is asked instead.

When a key was last used is written at most once a minute per key and process; its
first use is recorded in the audit log (`api_key.first_used`).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import SQLAlchemyError
from starlette.authentication import BaseUser

from stackkit.auth.audit import AuditLog
from stackkit.auth.authentication import (
    AuthenticationBackend,
    AuthenticationFailed,
    authorization,
)
from stackkit.auth.tables import api_keys
from stackkit.cache.store import Store, StoreUnavailable
from stackkit.db.model import utcnow
from stackkit.errors import ProblemError
from stackkit.http.asgi import Network, client_address
from stackkit.logs import ThrottledWarning

if TYPE_CHECKING:
    from starlette.types import Scope

    from stackkit.auth.two_factor import TwoFactor
    from stackkit.db.database import Database
    from stackkit.db.model import Model

__all__ = [
    "API_KEY_PREFIX",
    "ApiKey",
    "ApiKeyBackend",
    "ApiKeyUser",
    "ApiKeys",
    "InvalidApiKey",
    "NewApiKey",
    "delete_api_keys_of",
]

logger = logging.getLogger("stackkit.auth")

API_KEY_PREFIX = "sk_"
CACHED_FOR = 60.0
"""Seconds a key's record is kept in the store before the database is asked again."""
LAST_USE_EVERY = 60.0
"""Seconds between two writes of a key's last use, per process."""
GONE = b"0"
STALE = b"-"
STALE_FOR = 5.0
_KEY = re.compile(r"sk_([0-9a-f]{16})_([0-9A-Za-z_-]{43})")
_RECORDS_KEPT = 10_000


class InvalidApiKey(Exception):
    """The key is malformed, unknown, revoked, expired or its owner's account is
    disabled; the message says which, as far as the caller may know."""


@dataclass(frozen=True)
class ApiKey:
    """A key as its owner sees it (never its secret)."""

    id: str
    user_id: int
    name: str
    roles: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None

    @property
    def prefix(self) -> str:
        """How the key's text begins: enough to recognise it, not to use it."""
        return f"{API_KEY_PREFIX}{self.id}_"


@dataclass(frozen=True)
class NewApiKey:
    """A key just made, with the only copy of its text."""

    key: ApiKey
    text: str


@dataclass(frozen=True)
class _Record:
    """What a request's check needs of a key: kept in the store as JSON."""

    user_id: str
    digest: str
    roles: tuple[str, ...]
    expires_at: float | None

    def encode(self) -> bytes:
        fields = [self.user_id, self.digest, list(self.roles), self.expires_at]
        return json.dumps(fields, separators=(",", ":")).encode()

    @classmethod
    def decode(cls, raw: bytes) -> _Record:
        user_id, digest, roles, expires_at = json.loads(raw)
        return cls(str(user_id), str(digest), tuple(roles), expires_at)


class _Accepted(NamedTuple):
    """A key accepted on a record, as the store held it."""

    raw: bytes
    user: ApiKeyUser
    expires_at: float | None

    def at(self, now: float) -> ApiKeyUser:
        if self.expires_at is not None and self.expires_at <= now:
            raise InvalidApiKey("This API key has expired.")
        return self.user


class ApiKeyUser(BaseUser):
    """The caller an API key names: its owner, with the key's roles.

    `id` is the owner's, so owned rows are theirs; `identity` is the key's, so each
    key has a rate limit (and cache entries) of its own.
    """

    __slots__ = ("email_verified", "id", "key_id", "roles")

    def __init__(self, user_id: str, key_id: str, roles: tuple[str, ...]) -> None:
        self.id = user_id
        self.key_id = key_id
        self.roles = roles
        # Making a key asks for a verified address (when the app verifies them), and an
        # address changes only through a link that verifies the new one.
        self.email_verified = True

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def display_name(self) -> str:
        return f"{self.id} (API key {self.key_id})"

    @property
    def identity(self) -> str:
        return f"{self.id}.key.{self.key_id}"


class ApiKeys:
    """Make, list, revoke and check API keys.

    Args:
        database: holds `stackkit_api_keys` and the user table.
        store: where records are kept between requests (the sessions' store).
        user_model: the app's user table (its `is_active` and `roles` are read).
        roles_needing_two_factor: roles a key carries only while its owner has
            two-factor sign-in on (`STACKKIT_REQUIRE_2FA_FOR`), as `two_factor` says.
        clock: Unix time in seconds; tests pass their own.
    """

    def __init__(
        self,
        database: Database,
        store: Store,
        user_model: type[Model],
        *,
        roles_needing_two_factor: Collection[str] = (),
        two_factor: TwoFactor | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.database = database
        self.roles_needing_two_factor = frozenset(roles_needing_two_factor)
        self.two_factor = two_factor
        self.store = store
        self.users = user_model.__table__
        self.clock = clock
        self._decoded: dict[bytes, _Record] = {}
        self._accepted: dict[str, _Accepted] = {}
        self._warn = ThrottledWarning(logger, "API keys cannot be read: %s")

    @staticmethod
    def key(key_id: str) -> str:
        """The record's key in the store."""
        return f"api-key:{key_id}"

    async def create(
        self,
        user_id: int,
        *,
        name: str,
        roles: Collection[str] = (),
        expires_at: datetime | None = None,
    ) -> NewApiKey:
        """A new key of `user_id`'s; its text is in the answer and nowhere else."""
        key_id, secret = secrets.token_hex(8), secrets.token_urlsafe(32)
        key = ApiKey(
            id=key_id,
            user_id=user_id,
            name=name,
            roles=sorted(set(roles)),
            created_at=utcnow(),
            expires_at=expires_at,
            last_used_at=None,
        )
        async with self.database.session() as session:
            await session.execute(
                insert(api_keys).values(
                    id=key.id,
                    user_id=key.user_id,
                    name=key.name,
                    secret_digest=_digest(secret),
                    roles=key.roles,
                    created_at=key.created_at,
                    expires_at=key.expires_at,
                )
            )
        return NewApiKey(key, f"{API_KEY_PREFIX}{key_id}_{secret}")

    async def list(self, user_id: int) -> list[ApiKey]:
        """The user's keys, the newest first."""
        table = api_keys.c
        query = (
            select(api_keys)
            .where(table.user_id == user_id)
            .order_by(table.created_at.desc(), table.id)
        )
        async with self.database.session(read_only=True) as session:
            rows = (await session.execute(query)).mappings().all()
        return [_key_of(row) for row in rows]

    async def count(self, user_id: int) -> int:
        query = select(func.count()).select_from(api_keys).where(api_keys.c.user_id == user_id)
        async with self.database.session(read_only=True) as session:
            return int((await session.execute(query)).scalar_one())

    async def revoke(self, user_id: int, key_id: str) -> ApiKey | None:
        """Delete `user_id`'s key `key_id`: it stops working at once. None when the user
        has no such key."""
        table = api_keys.c
        async with self.database.session() as session:
            row = (
                (
                    await session.execute(
                        delete(api_keys)
                        .where(table.id == key_id, table.user_id == user_id)
                        .returning(*api_keys.c)
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            return None
        await self.store.set(self.key(key_id), GONE, ttl=CACHED_FOR)
        return _key_of(row)

    async def revoke_all(self, user_id: int) -> int:
        """Delete every key of the user (their account is deleted); how many."""
        ids = await delete_api_keys_of(self.database, user_id)
        for key_id in ids:
            await self.store.set(self.key(key_id), GONE, ttl=CACHED_FOR)
        return len(ids)

    async def suspend(self, user_id: int) -> None:
        """The user's roles or state changed: their keys' records are read anew."""
        query = select(api_keys.c.id).where(api_keys.c.user_id == user_id)
        async with self.database.session() as session:
            ids = list((await session.execute(query)).scalars())
        for key_id in ids:
            await self.store.set(self.key(key_id), STALE, ttl=STALE_FOR)

    async def check(self, text: str) -> ApiKeyUser:
        """The caller the key `text` names.

        Raises:
            InvalidApiKey: it does not (see the class).
            DatabaseUnavailable: the database was needed and did not answer.
        """
        accepted = self._accepted.get(text)
        if accepted is not None:
            # Accepted before on this very record: nothing to parse, hash or decode again.
            with contextlib.suppress(StoreUnavailable):
                if await self.store.get(self.key(accepted.user.key_id)) == accepted.raw:
                    return accepted.at(self.clock())
        key_id, secret = _parse(text)
        record, raw = await self._record(key_id)
        user = _judge(key_id, secret, record, self.clock())
        if raw is not None and record is not None:
            self._accept(text, _Accepted(raw, user, record.expires_at))
        return user

    def check_read(self, text: str, raw: bytes | None) -> ApiKeyUser | None:
        """The caller the key `text` names, judged from its record as read from the store
        already (`raw`, under `key(id)`); None when that read cannot tell (no record
        kept, or one to read anew): then `check` asks the database.

        Raises:
            InvalidApiKey: it names nobody.
        """
        accepted = self._accepted.get(text)
        if accepted is not None and raw == accepted.raw:
            return accepted.at(self.clock())
        key_id, secret = _parse(text)
        if raw is None or raw == STALE:
            return None
        record = None if raw == GONE else self._decode(raw)
        user = _judge(key_id, secret, record, self.clock())
        if record is not None:
            self._accept(text, _Accepted(raw, user, record.expires_at))
        return user

    def _accept(self, text: str, accepted: _Accepted) -> None:
        kept = self._accepted
        if len(kept) >= _RECORDS_KEPT and text not in kept:
            del kept[next(iter(kept))]
        kept[text] = accepted

    async def mark_used(self, key_id: str, *, first: bool) -> bool:
        """Write when the key was last used; with `first`, only if it never was. Whether
        a write with `first` changed the key (this is its first use)."""
        table = api_keys.c
        statement = update(api_keys).where(table.id == key_id).values(last_used_at=utcnow())
        if first:
            statement = statement.where(table.last_used_at.is_(None))
        async with self.database.session() as session:
            result = await session.execute(statement)
        return first and bool(getattr(result, "rowcount", 0))

    async def _record(self, key_id: str) -> tuple[_Record | None, bytes | None]:
        """The key's record, and the bytes it was read as when the store had it."""
        key = self.key(key_id)
        try:
            raw = await self.store.get(key)
        except StoreUnavailable:
            return await self._load(key_id), None
        if raw == GONE:
            return None, None
        if raw is not None and raw != STALE:
            return self._decode(raw), raw
        record = await self._load(key_id)
        if raw is None:
            value = GONE if record is None else record.encode()
            with contextlib.suppress(StoreUnavailable):
                await self.store.set_if_absent(key, value, ttl=CACHED_FOR)
        return record, None

    def _decode(self, raw: bytes) -> _Record:
        decoded = self._decoded
        try:
            return decoded[raw]
        except KeyError:
            record = decoded[raw] = _Record.decode(raw)
            if len(decoded) > _RECORDS_KEPT:
                del decoded[next(iter(decoded))]
            return record

    async def _load(self, key_id: str) -> _Record | None:
        users, table = self.users.c, api_keys.c
        query = (
            select(table.user_id, table.secret_digest, table.roles, table.expires_at)
            .add_columns(users.roles.label("user_roles"), users.is_active)
            .join_from(api_keys, self.users, users.id == table.user_id)
            .where(table.id == key_id)
        )
        try:
            async with self.database.session(read_only=True) as session:
                row = (await session.execute(query)).mappings().first()
        except SQLAlchemyError as error:  # the table is missing (migrations not run)
            self._warn(error)
            return None
        if row is None or not row["is_active"]:
            return None
        held = set(row["user_roles"] or ())
        roles = tuple(role for role in row["roles"] if role in held)
        needing = self.roles_needing_two_factor.intersection(roles)
        two_factor = self.two_factor
        if needing and not (two_factor is not None and await two_factor.is_enabled(row["user_id"])):
            roles = tuple(role for role in roles if role not in needing)
        expires_at = row["expires_at"]
        return _Record(
            user_id=str(row["user_id"]),
            digest=row["secret_digest"],
            roles=roles,
            expires_at=expires_at.timestamp() if expires_at is not None else None,
        )


class ApiKeyBackend(AuthenticationBackend):
    """`Authorization: Bearer sk_...`: the caller an API key names (`ApiKeyUser`).

    Other bearer values are left to the access token's backend. A wrong, revoked or
    expired key is refused (401 on routes that need a user).

    Args:
        keys: checks keys.
        trusted_proxies: whose `X-Forwarded-For` names the client (the audit log's
            address of a key's first use).
    """

    def __init__(self, keys: ApiKeys, *, trusted_proxies: Sequence[Network] = ()) -> None:
        self.keys = keys
        self.trusted_proxies = list(trusted_proxies)
        self._noted: dict[str, float] = {}

    async def authenticate(self, scope: Scope) -> ApiKeyUser | None:
        header = authorization(scope)
        if header is None:
            return None
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if not token.startswith(API_KEY_PREFIX) or scheme.lower() != "bearer":
            return None
        try:
            user = await self.keys.check(token)
        except InvalidApiKey as error:
            raise AuthenticationFailed(str(error)) from None
        await self.note_use(scope, user)
        return user

    async def note_use(self, scope: Scope, user: ApiKeyUser) -> None:
        """Write the key's last use, at most every `LAST_USE_EVERY` seconds in this
        process; on its first use, record it in the audit log."""
        now = time.monotonic()
        noted = self._noted
        last = noted.get(user.key_id)
        if last is not None and now - last < LAST_USE_EVERY:
            return
        noted.pop(user.key_id, None)
        noted[user.key_id] = now
        if len(noted) > _RECORDS_KEPT:
            del noted[next(iter(noted))]
        try:
            first = await self.keys.mark_used(user.key_id, first=last is None)
            if last is None and not first:
                await self.keys.mark_used(user.key_id, first=False)
        except (SQLAlchemyError, ProblemError, OSError) as error:
            logger.warning("The last use of API key %s was not written: %s", user.key_id, error)
            return
        if first:
            headers = dict(scope["headers"])
            agent = headers.get(b"user-agent", b"").decode("latin-1") or None
            await AuditLog(self.keys.database).record(
                "api_key.first_used",
                subject_id=int(user.id) if user.id.isdigit() else None,
                address=client_address(scope, self.trusted_proxies),
                user_agent=agent,
                details={"key_id": user.key_id},
            )


async def delete_api_keys_of(database: Database, user_id: int) -> list[str]:
    """Delete the user's keys' rows; their ids. (`ApiKeys.revoke_all` also stops the
    records kept in the store.)"""
    async with database.session() as session:
        result = await session.execute(
            delete(api_keys).where(api_keys.c.user_id == user_id).returning(api_keys.c.id)
        )
        return list(result.scalars())


def _parse(text: str) -> tuple[str, str]:
    match = _KEY.fullmatch(text)
    if match is None:
        raise InvalidApiKey("This is not an API key: they read sk_<16 hex digits>_<secret>.")
    key_id, secret = match.groups()
    return key_id, secret


def _judge(key_id: str, secret: str, record: _Record | None, now: float) -> ApiKeyUser:
    if record is None or not hmac.compare_digest(record.digest, _digest(secret)):
        raise InvalidApiKey("This API key is unknown or was revoked.")
    if record.expires_at is not None and record.expires_at <= now:
        raise InvalidApiKey("This API key has expired.")
    return ApiKeyUser(record.user_id, key_id, record.roles)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _key_of(row: Any) -> ApiKey:
    return ApiKey(
        id=row["id"],
        user_id=row["user_id"],
        name=row["name"],
        roles=list(row["roles"]),
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        last_used_at=row["last_used_at"],
    )
