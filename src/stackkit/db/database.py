"""The SQL database of an app: an async SQLAlchemy engine with a readiness check."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from stackkit.backends import Backend
from stackkit.settings import normalize_database_url

__all__ = ["Database"]


class Database(Backend):
    """Owns the engine of the primary database.

    Args:
        url: a SQLAlchemy URL; plain `postgresql://` and `sqlite:///` are mapped to
            the async drivers (psycopg 3, aiosqlite).
        connect_timeout: seconds before an unreachable server counts as down.
    """

    name = "database"

    def __init__(self, url: str, *, connect_timeout: float = 5.0, echo: bool = False) -> None:
        self.url = normalize_database_url(url)
        self.connect_timeout = connect_timeout
        self.echo = echo
        self._engine: AsyncEngine | None = None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("Database is not open: use it inside the app's lifespan")
        return self._engine

    async def open(self) -> None:
        connect_args: dict[str, Any]
        if self.url.startswith("sqlite"):
            connect_args = {"timeout": self.connect_timeout}
        else:
            connect_args = {"connect_timeout": max(1, round(self.connect_timeout))}
        self._engine = create_async_engine(
            self.url, pool_pre_ping=True, connect_args=connect_args, echo=self.echo
        )

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def check(self) -> None:
        async with self.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
