"""`UserService`: the account rules, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from stackkit import ValidationProblem
from stackkit.auth import PasswordHasher, RefreshSessions, UserService
from stackkit.auth.passwords import PasswordCheck
from stackkit.auth.user import User
from stackkit.cache import MemoryStore
from stackkit.cache.sessions import SessionStore
from stackkit.db import ConflictError, Database, Model
from stackkit.db.errors import PreconditionFailedError
from tests.auth.conftest import FAST_HASHER, PASSWORD


class CountingHasher(PasswordHasher):
    def __init__(self, **parameters: Any) -> None:
        super().__init__(**parameters)
        self.verified: list[str | None] = []

    async def verify(self, password_hash: str | None, password: str) -> PasswordCheck:
        self.verified.append(password_hash)
        return await super().verify(password_hash, password)


@pytest.fixture
async def users_db(db: Database) -> AsyncIterator[Database]:
    async with db.engine.begin() as connection:
        await connection.run_sync(Model.metadata.create_all, tables=[User.__table__])
    yield db
    async with db.engine.begin() as connection:
        await connection.run_sync(Model.metadata.drop_all, tables=[User.__table__])


@pytest.fixture
def sessions() -> RefreshSessions:
    return RefreshSessions(SessionStore(MemoryStore()), secret_keys=["a test secret key"])


def _service(
    db: Database, sessions: RefreshSessions | None = None, hasher: PasswordHasher = FAST_HASHER
) -> UserService[Any]:
    return UserService.for_model(User)(db, hasher=hasher, sessions=sessions)


async def test_emails_are_one_account_whatever_their_case(users_db: Database) -> None:
    users = _service(users_db)
    user = await users.register("  Ada@Example.COM", PASSWORD)
    assert user.email == "ada@example.com"
    with pytest.raises(ConflictError):
        await users.register("ada@EXAMPLE.com", PASSWORD)
    assert await users.authenticate("ADA@example.com", PASSWORD) is not None


async def test_unknown_email_costs_a_hash_check_too(users_db: Database) -> None:
    hasher = CountingHasher(time_cost=1, memory_cost=64)
    users = _service(users_db, hasher=hasher)
    assert await users.authenticate("nobody@example.com", PASSWORD) is None
    assert hasher.verified == [None]  # verify() still ran, against its dummy hash


async def test_login_rehashes_with_the_current_parameters(users_db: Database) -> None:
    old = _service(users_db, hasher=PasswordHasher(time_cost=1, memory_cost=64))
    user = await old.register("ada@example.com", PASSWORD)
    assert "m=64,t=1" in user.password_hash
    current = _service(users_db, hasher=PasswordHasher(time_cost=2, memory_cost=128))
    signed_in = await current.authenticate("ada@example.com", PASSWORD)
    assert signed_in is not None
    assert "m=128,t=2" in signed_in.password_hash
    assert signed_in.last_login_at is not None
    assert await current.authenticate("ada@example.com", PASSWORD) is not None


async def test_disabled_user_cannot_sign_in_and_loses_every_session(
    users_db: Database, sessions: RefreshSessions
) -> None:
    users = _service(users_db, sessions)
    user = await users.register("ada@example.com", PASSWORD)
    grants = [await sessions.start(str(user.id)) for _ in range(2)]
    await users.set_active(user.id, False)
    assert await users.authenticate("ada@example.com", PASSWORD) is None
    for grant in grants:
        assert not await sessions.sessions.is_alive(grant.session.id)


async def test_password_change_keeps_only_the_current_session(
    users_db: Database, sessions: RefreshSessions
) -> None:
    users = _service(users_db, sessions)
    user = await users.register("ada@example.com", PASSWORD)
    here, elsewhere = await sessions.start(str(user.id)), await sessions.start(str(user.id))
    with pytest.raises(ValidationProblem):
        await users.change_password(user.id, "not it at all", "a new long passphrase")
    await users.change_password(
        user.id, PASSWORD, "a new long passphrase", keep_session=here.session.id
    )
    assert await sessions.sessions.is_alive(here.session.id)
    assert not await sessions.sessions.is_alive(elsewhere.session.id)
    changed = await users.get(user.id)
    assert changed.password_changed_at is not None


async def test_deleting_a_user_ends_their_sessions(
    users_db: Database, sessions: RefreshSessions
) -> None:
    users = _service(users_db, sessions)
    user = await users.register("ada@example.com", PASSWORD)
    grant = await sessions.start(str(user.id))
    await users.delete(user.id)
    assert not await sessions.sessions.is_alive(grant.session.id)


async def test_a_password_change_or_a_deletion_of_a_changed_user_is_refused(
    users_db: Database,
) -> None:
    """Two admins at once: the second, acting on the version it read, loses nothing."""
    users = _service(users_db)
    user = await users.register("ada@example.com", PASSWORD)
    seen = user.version
    await users.set_roles(user.id, ["editor"])  # someone else changed the user meanwhile
    with pytest.raises(PreconditionFailedError):
        await users.set_password(user.id, "a whole new password", expected_version=seen)
    with pytest.raises(PreconditionFailedError):
        await users.delete(user.id, expected_version=seen)
    assert await users.authenticate("ada@example.com", PASSWORD) is not None  # unchanged
