"""A tiny stackkit app for uvicorn workers started by tests (`--factory`), configured
from the environment like a deployed app."""

from __future__ import annotations

from starlette.applications import Starlette

from stackkit import Controller, create_app


def app() -> Starlette:
    api = Controller("/api", public=True)

    @api.get("/ping", cache_ttl=0)
    async def ping() -> dict[str, str]:
        return {"pong": "ok"}

    return create_app(controllers=[api])
