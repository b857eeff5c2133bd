"""Users: the `UserMixin` columns, and `UserService` with the account rules.

An app owns its user table (and its migrations):

    class User(UserMixin, Model):      # table "users"
        display_name: Mapped[str] = mapped_column(String(100), default="")

or takes the ready-made `stackkit.auth.user.User`. `UserService.for_model(User)`
gives the service the auth routes use; subclass it to add rules.

Emails are stored as `normalize_email` makes them (NFKC, lower case, no invisible
or control characters), and unique: `Ada@Example.com`, `ada@example.com` and the
same address in fullwidth letters are one account. A row stored otherwise (by an
older stackkit, or by SQL) is not found until it is moved to its normal form:
`UserService.email_fixes()` (`stackkit user normalize-emails`) lists and fixes them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any, ClassVar, Generic, TypeVar

from sqlalchemy import JSON, String, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column

from stackkit.auth.api_keys import ApiKeys, delete_api_keys_of
from stackkit.auth.emails import EmailFix, InvalidEmail, normalize_email, plan_email_fixes
from stackkit.auth.passwords import PasswordHasher, PasswordPolicy, PasswordPolicyError
from stackkit.auth.refresh import RefreshSessions
from stackkit.auth.trusted_devices import TrustedDevices
from stackkit.auth.two_factor import TwoFactor
from stackkit.auth.verification import EmailVerifications
from stackkit.db.database import Database
from stackkit.db.model import Model, UTCDateTime, utcnow
from stackkit.db.repository import Repository
from stackkit.db.service import Service
from stackkit.errors import ConflictError, ValidationProblem

# `normalize_email` is still importable from here, where it used to live.
__all__ = ["UserMixin", "UserRepository", "UserService", "normalize_email"]

U = TypeVar("U", bound=Model)
logger = logging.getLogger("stackkit.auth")


class UserMixin:
    """The columns the auth building block needs. Mix in before `Model`."""

    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(default=True, index=True)
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Typed explicitly, so that the mixin works on a declarative base of the app's own.
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
    password_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)


class UserRepository(Repository[U]):
    filterable = ("email", "is_active", "created_at")
    sortable = ("id", "email", "created_at")

    async def get_by_email(self, email: str) -> U | None:
        """The user whose stored email is `email`'s normal form; None for an email
        that `normalize_email` refuses."""
        try:
            normal = normalize_email(email)
        except InvalidEmail:
            return None
        return await self.first({"email": normal})

    async def emails(self) -> list[tuple[int, str]]:
        """Every user's id and stored email, by id."""
        table = self.model.__table__
        query = select(table.c.id, table.c.email).where(*self._visible()).order_by(table.c.id)
        return [(id, email) for id, email in (await self.session.execute(query)).all()]

    async def first(self, filters: dict[str, Any]) -> U | None:
        result = await self.session.scalars(self._select(filters).limit(1))
        return result.first()


class UserService(Service[U], Generic[U]):
    """Account operations. Every change that should sign a user out elsewhere
    (disabling, a new password, new roles, deletion) revokes their sessions.

    Args:
        db: the database.
        hasher: hashes and checks passwords.
        policy: what a new password must satisfy.
        sessions: the refresh sessions to end on those changes (None: none kept).
        api_keys: the users' API keys, read anew on those changes and deleted with
            the account (None: the app has none in use; deleting still drops their rows).
        two_factor: the users' second factors, deleted with the account.
        trusted_devices: the browsers trusted at the second step of a sign-in,
            forgotten on a new password, a disabling and a deletion.
    """

    repository: ClassVar[type[UserRepository[Any]]]

    def __init__(
        self,
        db: Database,
        *,
        hasher: PasswordHasher | None = None,
        policy: PasswordPolicy | None = None,
        sessions: RefreshSessions | None = None,
        api_keys: ApiKeys | None = None,
        two_factor: TwoFactor | None = None,
        trusted_devices: TrustedDevices | None = None,
    ) -> None:
        super().__init__(db)
        self.hasher = hasher or PasswordHasher()
        self.policy = policy or PasswordPolicy()
        self.sessions = sessions
        self.api_keys = api_keys
        self.two_factor = two_factor
        self.trusted_devices = trusted_devices

    @classmethod
    def for_model(cls, model: type[U]) -> type[UserService[U]]:
        repository = type(f"{model.__name__}Repository", (UserRepository,), {"model": model})
        return type(f"{model.__name__}Service", (cls,), {"repository": repository})

    async def get_by_email(self, email: str) -> U | None:
        async with self.unit(read_only=True) as repository:
            return await repository.get_by_email(email)  # type: ignore[attr-defined, no-any-return]

    async def register(self, email: str, password: str, *, roles: Sequence[str] = ()) -> U:
        """A new, active user, with `email` in its normal form (`normalize_email`).

        Raises:
            ValidationProblem: `normalize_email` refuses the email (field `email`), or
                the password breaks the policy (field `password`).
            ConflictError: the email is taken (in any form that normalises the same).
        """
        try:
            email = normalize_email(email)
        except InvalidEmail as error:
            raise ValidationProblem.for_field("email", str(error)) from None
        self.check_new_password(password, email, field="password")
        password_hash = await self.hasher.hash(password)
        values = {"email": email, "password_hash": password_hash, "roles": sorted(set(roles))}
        return await self.create(values)

    async def authenticate(self, email: str, password: str) -> U | None:
        """The active user with this email (in any form that normalises the same) and
        password, else None. An unknown or refused email costs the same hashing work
        as a known one. A hash made with older parameters is replaced by one made
        with the current ones."""
        user: Any = await self.get_by_email(email)
        check = await self.hasher.verify(user.password_hash if user else None, password)
        if user is None or not check.ok or not user.is_active:
            return None
        changes: dict[str, Any] = {"last_login_at": utcnow()}
        if check.new_hash:
            changes["password_hash"] = check.new_hash
        return await self.update(user.id, changes)

    async def email_fixes(self) -> list[EmailFix]:
        """The users whose stored email is not in its normal form (rows written before
        emails were normalised as they are now, or by SQL), each with its normal form
        or the reason it cannot take it. Such a user cannot sign in or reset their
        password (every lookup is by the normal form) until `fix_emails` moves them."""
        async with self.unit(read_only=True) as repository:
            rows = await repository.emails()  # type: ignore[attr-defined]
        return plan_email_fixes(rows)

    async def fix_emails(self, fixes: Sequence[EmailFix]) -> list[EmailFix]:
        """Store the normal form of each fix that has one (`EmailFix.fixable`); the
        others are left for a person to decide. Returns the fixes carried out.
        A fix whose normal form was taken meanwhile is skipped."""
        done = []
        for fix in fixes:
            if not fix.fixable:
                continue
            try:
                await self.update(fix.id, {"email": fix.normalized})
            except ConflictError:
                continue
            done.append(fix)
        return done

    async def change_password(
        self, id: int, current: str, new: str, *, keep_session: str | None = None
    ) -> U:
        """Replace the password after checking the current one; every session but
        `keep_session` ends.

        Raises:
            ValidationProblem: the current password is wrong, or the new one breaks
                the policy.
        """
        user: Any = await self.get(id)
        if not (await self.hasher.verify(user.password_hash, current)).ok:
            raise ValidationProblem.for_field(
                "current_password", "This is not your current password."
            )
        return await self._replace_password(user, new, keep_session, None)

    async def set_password(
        self,
        id: int,
        new: str,
        *,
        keep_session: str | None = None,
        expected_version: int | None = None,
    ) -> U:
        """Set a new password (a reset, an admin); every session but `keep_session` ends.

        Raises:
            ValidationProblem: the new password breaks the policy.
            PreconditionFailedError: the user changed since `expected_version`.
        """
        return await self._replace_password(await self.get(id), new, keep_session, expected_version)

    async def _replace_password(
        self, row: Any, new: str, keep_session: str | None, expected_version: int | None
    ) -> U:
        self.check_new_password(new, row.email)
        changes = {"password_hash": await self.hasher.hash(new), "password_changed_at": utcnow()}
        user = await self.update(row.id, changes, expected_version=expected_version)
        await self._end_sessions(row.id, keep=keep_session)
        await self._forget_trusted_devices(row.id)
        return user

    async def set_active(self, id: int, active: bool) -> U:
        """Disable or enable the account; disabling ends its sessions, and its API keys
        stop (or work again) at once."""
        user = await self.update(id, {"is_active": active})
        if not active:
            await self._end_sessions(id)
            await self._forget_trusted_devices(id)
        await self._suspend_api_keys(id)
        return user

    async def set_roles(self, id: int, roles: Sequence[str]) -> U:
        """New roles; the user's sessions end, since their tokens carry the old ones, and
        their API keys keep only the roles the user still holds."""
        user = await self.update(id, {"roles": sorted(set(roles))})
        await self._end_sessions(id)
        await self._suspend_api_keys(id)
        return user

    async def delete(self, id: int, *, expected_version: int | None = None) -> None:
        """Delete the account, its sessions, its API keys and its verified address."""
        await super().delete(id, expected_version=expected_version)
        await self._end_sessions(id)
        await self._forget_trusted_devices(id)
        try:
            if self.two_factor is not None:
                await self.two_factor.forget(id)
            if self.api_keys is not None:
                await self.api_keys.revoke_all(id)
            else:
                await delete_api_keys_of(self.db, id)
            await EmailVerifications(self.db).forget(id)
        except SQLAlchemyError as error:  # the account tables were never created
            logger.warning("The API keys or verified address of user %s stay: %s", id, error)

    async def _forget_trusted_devices(self, id: int) -> None:
        if self.trusted_devices is not None:
            await self.trusted_devices.revoke_all(str(id))

    async def _suspend_api_keys(self, id: int) -> None:
        if self.api_keys is None:
            return
        try:
            await self.api_keys.suspend(id)
        except SQLAlchemyError as error:  # the table was never created: no keys to stop
            logger.warning("The API keys of user %s were not read anew: %s", id, error)

    async def end_sessions(self, id: int, *, keep: str | None = None) -> None:
        """End every session of the user but `keep`."""
        await self._end_sessions(id, keep=keep)

    async def _end_sessions(self, id: int, *, keep: str | None = None) -> None:
        if self.sessions is None:
            return
        store = self.sessions.sessions
        if keep is None:
            await store.revoke_all(str(id))
            return
        for session in await store.list(str(id)):
            if session.id != keep:
                await store.revoke(session.id)

    def check_new_password(self, password: str, email: str, *, field: str = "new_password") -> None:
        """Raises `ValidationProblem` (422, naming `field`) when the policy refuses it."""
        try:
            self.policy.check(password, email=email)
        except PasswordPolicyError as error:
            raise ValidationProblem.for_field(field, str(error)) from None
