"""`/healthz` (the process is alive) and `/readyz` (every backend answers)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel
from starlette.requests import Request

from stackkit.errors import ProblemError
from stackkit.http.routing import Controller

if TYPE_CHECKING:
    from stackkit.backends import Backend

__all__ = ["Health", "Readiness", "health_controller"]

logger = logging.getLogger("stackkit.health")


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ok"] = "ok"
    checks: dict[str, str]
    """Each backend's name and `ok`."""


def health_controller(*, check_timeout: float = 2.0, expose_errors: bool = False) -> Controller:
    """The public health routes.

    Args:
        check_timeout: seconds each backend may take to answer before it counts as down.
        expose_errors: name the error of a failed check in the 503 (off in production).
    """
    health = Controller(tags=["health"], public=True, cache_ttl=0, rate_limit=False)

    @health.get("/healthz")
    async def healthz() -> Health:
        """Liveness: the process serves requests."""
        return Health()

    @health.get("/readyz")
    async def readyz(request: Request) -> Readiness:
        """Readiness: every backend the app uses answers; 503 names the ones that do not."""
        backends: list[Backend] = list(request.app.state.backends.values())
        outcomes = await asyncio.gather(*(_check(b, check_timeout) for b in backends))
        checks = {
            backend.name: outcome for backend, outcome in zip(backends, outcomes, strict=True)
        }
        failed = sorted(name for name, outcome in checks.items() if outcome != "ok")
        if failed:
            if not expose_errors:
                checks = {name: "ok" if o == "ok" else "unavailable" for name, o in checks.items()}
            raise ProblemError(
                503,
                f"Not ready: {', '.join(failed)} did not answer.",
                headers={"Retry-After": "5", "Cache-Control": "no-store"},
                checks=checks,
            )
        return Readiness(checks=checks)

    return health


async def _check(backend: Backend, seconds: float) -> str:
    try:
        async with asyncio.timeout(seconds):
            await backend.check()
    except Exception as error:
        logger.warning("Readiness check of %s failed: %r", backend.name, error)
        return f"unavailable: {type(error).__name__}: {error}"
    return "ok"
