"""The tables the auth building block keeps for itself, whatever the app's user model.

They live in a `MetaData` of their own (`account_metadata`), not in the app's
`Model.metadata`: an app's models do not declare them, autogenerate leaves them
alone (their names start with `stackkit_`, see `TABLES_MANAGED_ELSEWHERE`), and a
generated project creates them in a revision of its own (`0003`, which spells their
columns out, as a revision should). An app with migrations of its own can call the
helpers instead:

    def upgrade() -> None:
        create_audit_table()
        create_email_verification_table()
        create_api_key_table()
        create_two_factor_tables()

An app without migrations (tests, a script) calls `create_account_tables(engine)`.
They hold user ids without a foreign key (the user table is the app's): an audit
event outlives the account it is about.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, MetaData, String, Table

from stackkit.db.model import NAMING_CONVENTION, UTCDateTime

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

__all__ = [
    "account_metadata",
    "api_keys",
    "audit_events",
    "create_account_tables",
    "create_api_key_table",
    "create_audit_table",
    "create_email_verification_table",
    "create_two_factor_tables",
    "drop_api_key_table",
    "drop_audit_table",
    "drop_email_verification_table",
    "drop_two_factor_tables",
    "email_verifications",
    "recovery_codes",
    "two_factor",
]

account_metadata = MetaData(naming_convention=NAMING_CONVENTION)

audit_events = Table(
    "stackkit_audit_events",
    account_metadata,
    # An integer on SQLite, where only INTEGER PRIMARY KEY counts up by itself.
    Column("id", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("event", String(40), nullable=False),
    Column("actor_id", Integer(), nullable=True),
    Column("subject_id", Integer(), nullable=True),
    Column("address", String(64), nullable=True),
    Column("user_agent", String(200), nullable=True),
    Column("details", JSON(), nullable=False),
    # The ways the log is read: by account, by kind, by who acted; and purged by age.
    Index("ix_stackkit_audit_events_subject_id_id", "subject_id", "id"),
    Index("ix_stackkit_audit_events_event_id", "event", "id"),
    Index("ix_stackkit_audit_events_actor_id_id", "actor_id", "id"),
    Index("ix_stackkit_audit_events_created_at", "created_at"),
    sqlite_autoincrement=True,
)
"""Security events of accounts (`stackkit.auth.audit`): who (`actor_id`) did what
(`event`) to whose account (`subject_id`), from where, when."""


email_verifications = Table(
    "stackkit_email_verifications",
    account_metadata,
    Column("user_id", Integer(), primary_key=True, autoincrement=False),
    Column("email_digest", String(64), nullable=False),
    Column("verified_at", UTCDateTime(), nullable=False),
)
"""The address each user last proved they read (`stackkit.auth.verification`): a
SHA-256 of its normal form, so that an account whose email changes is no longer
verified, and no address is kept here."""


api_keys = Table(
    "stackkit_api_keys",
    account_metadata,
    Column("id", String(16), primary_key=True),
    Column("user_id", Integer(), nullable=False),
    Column("name", String(100), nullable=False),
    Column("secret_digest", String(64), nullable=False),
    Column("roles", JSON(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=True),
    Column("last_used_at", UTCDateTime(), nullable=True),
    Index("ix_stackkit_api_keys_user_id", "user_id"),
)
"""Users' API keys (`stackkit.auth.api_keys`): the key's public id, its owner, the
SHA-256 of its secret (never the secret), the roles it carries, its expiry and when
it was last used."""


two_factor = Table(
    "stackkit_two_factor",
    account_metadata,
    Column("user_id", Integer(), primary_key=True, autoincrement=False),
    Column("secret", String(255), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("enabled_at", UTCDateTime(), nullable=True),
    Column("last_step", BigInteger(), nullable=True),
)
"""Each user's TOTP secret (`stackkit.auth.two_factor`), encrypted; `enabled_at` null
while the enrolment waits for its first code; `last_step`, the time step of the last
code accepted (a code is never accepted twice)."""

recovery_codes = Table(
    "stackkit_recovery_codes",
    account_metadata,
    Column("user_id", Integer(), primary_key=True, autoincrement=False),
    Column("digest", String(64), primary_key=True),
)
"""The SHA-256 of each recovery code a user has left (a used one is deleted)."""


def _create(table: Table) -> None:
    from alembic import op  # here: an app that only serves need not load Alembic

    op.create_table(
        table.name,
        *(column._copy() for column in table.columns),
        sqlite_autoincrement=bool(table.dialect_kwargs.get("sqlite_autoincrement")),
    )
    for index in table.indexes:
        op.create_index(index.name, table.name, [c.name for c in index.columns])


def _drop(table: Table) -> None:
    from alembic import op

    op.drop_table(table.name)


def create_audit_table() -> None:
    """In a revision's `upgrade()`: create `stackkit_audit_events` and its indexes."""
    _create(audit_events)


def drop_audit_table() -> None:
    """In a revision's `downgrade()`: drop the audit log and every event in it."""
    _drop(audit_events)


def create_email_verification_table() -> None:
    """In a revision's `upgrade()`: create `stackkit_email_verifications`."""
    _create(email_verifications)


def drop_email_verification_table() -> None:
    """In a revision's `downgrade()`: drop it (every address counts as unverified)."""
    _drop(email_verifications)


def create_api_key_table() -> None:
    """In a revision's `upgrade()`: create `stackkit_api_keys`."""
    _create(api_keys)


def drop_api_key_table() -> None:
    """In a revision's `downgrade()`: drop it (every API key stops working)."""
    _drop(api_keys)


def create_two_factor_tables() -> None:
    """In a revision's `upgrade()`: create `stackkit_two_factor` and
    `stackkit_recovery_codes`."""
    _create(two_factor)
    _create(recovery_codes)


def drop_two_factor_tables() -> None:
    """In a revision's `downgrade()`: drop them (two-factor sign-in is off for all)."""
    _drop(recovery_codes)
    _drop(two_factor)


async def create_account_tables(engine: AsyncEngine) -> None:
    """Create the tables that do not exist yet, without migrations (tests, scripts)."""
    async with engine.begin() as connection:
        await connection.run_sync(account_metadata.create_all)
