"""`UserService`: the account rules, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from stackkit import ValidationProblem
from stackkit.auth import (
    InvalidEmail,
    PasswordHasher,
    RefreshSessions,
    UserService,
    normalize_email,
)
from stackkit.auth.emails import EmailFix
from stackkit.auth.passwords import PasswordCheck
from stackkit.auth.sessions import SessionStore
from stackkit.auth.user import User
from stackkit.cache import MemoryStore
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


async def test_a_wrong_current_password_is_a_422_on_that_field(users_db: Database) -> None:
    users = _service(users_db)
    user = await users.register("ada@example.com", PASSWORD)
    with pytest.raises(ValidationProblem) as raised:
        await users.change_password(user.id, "not it at all", "a new long passphrase")
    assert raised.value.extensions["errors"] == [
        {"in": "body", "field": "current_password", "type": "value_error",
         "message": "This is not your current password."}
    ]  # fmt: skip


async def test_a_password_set_for_a_user_may_not_be_their_email(users_db: Database) -> None:
    users = _service(users_db)
    user = await users.register("ada.lovelace@example.com", PASSWORD)
    with pytest.raises(ValidationProblem) as raised:
        await users.set_password(user.id, "ada.lovelace")
    assert raised.value.extensions["errors"] == [
        {"in": "body", "field": "new_password", "type": "value_error",
         "message": "Do not use your email address as your password."}
    ]  # fmt: skip


async def test_a_password_set_for_a_user_keeps_the_session_named(
    users_db: Database, sessions: RefreshSessions
) -> None:
    users = _service(users_db, sessions)
    user = await users.register("ada@example.com", PASSWORD)
    here, elsewhere = await sessions.start(str(user.id)), await sessions.start(str(user.id))
    await users.set_password(user.id, "a new long passphrase", keep_session=here.session.id)
    assert await sessions.sessions.is_alive(here.session.id)
    assert not await sessions.sessions.is_alive(elsewhere.session.id)


async def test_the_user_emails_come_in_id_order(users_db: Database) -> None:
    users = _service(users_db)
    ids = [(await users.register(f"user{n}@example.com", PASSWORD)).id for n in range(4)]
    await users.set_roles(ids[0], ["editor"])  # a new row version, at the table's end
    async with users.unit(read_only=True) as repository:
        assert await repository.emails() == [(id, f"user{n}@example.com") for n, id in
                                             enumerate(ids)]  # fmt: skip


async def test_fix_emails_goes_on_past_a_fix_it_cannot_make(users_db: Database) -> None:
    users = _service(users_db)
    taken = await users.register("taken@example.com", PASSWORD)
    other = await users.register("other@example.com", PASSWORD)
    fixes = [
        EmailFix(99, "??", None, "refused: not an email"),  # not fixable
        EmailFix(other.id, "other@example.com", "taken@example.com", None),  # taken meanwhile
        EmailFix(taken.id, "taken@example.com", "taken2@example.com", None),
    ]
    assert await users.fix_emails(fixes) == fixes[2:]
    assert (await users.get(taken.id)).email == "taken2@example.com"
    assert (await users.get(other.id)).email == "other@example.com"


async def test_register_refuses_an_email_the_normal_form_refuses(users_db: Database) -> None:
    email = "ada\u200b@example.com"
    with pytest.raises(InvalidEmail) as refused:
        normalize_email(email)
    with pytest.raises(ValidationProblem) as raised:
        await _service(users_db).register(email, PASSWORD)
    assert raised.value.extensions["errors"] == [
        {"in": "body", "field": "email", "message": str(refused.value), "type": "value_error"}
    ]
