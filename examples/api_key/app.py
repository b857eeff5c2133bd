"""An app whose API answers service accounts (`X-Api-Key`) as well as users.

STACKKIT_ENV=development uvicorn app:app --no-proxy-headers
"""

from __future__ import annotations

import os

from backend import ApiKeyBackend, ServiceAccount
from starlette.requests import Request

from stackkit import Controller, create_app
from stackkit.auth import AuthConfig
from stackkit.auth.user import User

api = Controller("/api/reports", tags=["reports"])


@api.get("/whoami")
async def whoami(request: Request) -> dict[str, object]:
    """Who is calling: a user or a service account."""
    return {"id": request.user.id, "roles": sorted(request.user.roles)}


@api.post("/rebuild", roles=["reports"], status_code=202)
async def rebuild(request: Request) -> dict[str, str]:
    """Only callers holding the `reports` role."""
    return {"queued_by": request.user.id}


accounts = ApiKeyBackend(
    {
        os.environ.get("REPORTER_KEY", "reporter-key"): ServiceAccount("reporter", {"reports"}),
        os.environ.get("READER_KEY", "reader-key"): ServiceAccount("reader"),
    }
)
app = create_app(auth=AuthConfig(User, backends=[accounts]), controllers=[api])
