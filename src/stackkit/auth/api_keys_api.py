"""A user's API keys over HTTP: `api_keys_controller(auth)` (`create_app` adds it).

| route | does |
|---|---|
| `GET /api/auth/api-keys` | the signed-in user's keys, newest first (never their text) |
| `POST /api/auth/api-keys` `{name, roles?, expires_in_days?}` | 201, the key; its text only here |
| `DELETE /api/auth/api-keys/{id}` | 204; the key stops working at once |
| `GET /api/auth/users/{id}/api-keys` | an admin: that user's keys |
| `DELETE /api/auth/users/{id}/api-keys/{key_id}` | an admin: 204, that key revoked |

Each needs a session (an access token): a key cannot list, make or revoke keys.
The admins' two need the admin role as well.
Making one needs a verified email address when the app verifies them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from stackkit.auth.api import current_user, signed_in_user
from stackkit.auth.api_keys import ApiKey, ApiKeys
from stackkit.auth.audit import user_id_from
from stackkit.auth.config import Auth
from stackkit.db.model import MAX_ID, utcnow
from stackkit.errors import ConflictError, ProblemError, ValidationProblem
from stackkit.http.routing import Controller

__all__ = ["admin_api_keys_controller", "api_keys_controller"]

MAX_EXPIRY_DAYS = 3650


class ApiKeyIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100, description="What the key is for.")
    roles: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="Roles the key carries, each one you hold; none: a plain user's access.",
    )
    expires_in_days: int | None = Field(
        None, ge=1, le=MAX_EXPIRY_DAYS, description="Days the key works; null: until revoked."
    )


class ApiKeyPath(BaseModel):
    id: str = Field(max_length=16, description="The key's id.")


class UserPath(BaseModel):
    id: int = Field(ge=1, le=MAX_ID, description="The user's id.")


class UserApiKeyPath(UserPath):
    key_id: str = Field(max_length=16, description="The key's id.")


class ApiKeyOut(BaseModel):
    id: str
    name: str
    prefix: str = Field(description="How the key's text begins, to recognise it.")
    roles: list[str]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None = Field(description="To within a minute; null: never used.")


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key's text: shown this once, stored nowhere.")


def _out(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "name": key.name,
        "prefix": key.prefix,
        "roles": key.roles,
        "created_at": key.created_at,
        "expires_at": key.expires_at,
        "last_used_at": key.last_used_at,
    }


def _keys_for_a_session(auth: Auth, request: Request) -> ApiKeys:
    """The app's keys, for a caller signed in with a session (not with a key).

    Raises:
        ProblemError: 404 when the app has no keys; 401 for a caller without a session.
    """
    if auth.api_keys is None:
        raise ProblemError(404, "This app has no API keys.")
    signed_in_user(request)
    return auth.api_keys


def api_keys_controller(auth: Auth) -> Controller:
    """The routes of the signed-in user's API keys, for `create_app`."""
    config = auth.config
    api = Controller(f"{config.prefix}/api-keys", tags=["auth"], cache_ttl=0)

    def keys(request: Request) -> ApiKeys:
        return _keys_for_a_session(auth, request)

    @api.get("", name="list_api_keys", response=list[ApiKeyOut])
    async def list_keys(request: Request) -> list[dict[str, Any]]:
        """Your API keys, newest first."""
        user_id = user_id_from(signed_in_user(request).id)
        found = await keys(request).list(user_id) if user_id is not None else []
        return [_out(key) for key in found]

    @api.post("", name="create_api_key", status_code=201, response=ApiKeyCreated, verified=True)
    async def create_key(request: Request, body: ApiKeyIn) -> Response:
        """Make an API key. Its text is in this answer only: keep it now."""
        api_keys = keys(request)
        row = await current_user(request)
        held = set(row.roles or ())
        missing = sorted(set(body.roles) - held)
        if missing:
            raise ValidationProblem.for_field(
                "roles", f"You do not hold {', '.join(missing)}: a key carries your roles only."
            )
        if await api_keys.count(row.id) >= config.api_keys_per_user:
            raise ConflictError(
                f"You have {config.api_keys_per_user} API keys already: revoke one first."
            )
        expires_at = (
            utcnow() + timedelta(days=body.expires_in_days) if body.expires_in_days else None
        )
        made = await api_keys.create(
            row.id, name=body.name, roles=body.roles, expires_at=expires_at
        )
        await auth.audit(
            request, "api_key.created", subject_id=row.id,
            details={"key_id": made.key.id, "name": made.key.name, "roles": made.key.roles},
        )  # fmt: skip
        created = ApiKeyCreated(**_out(made.key), key=made.text)
        return JSONResponse(
            created.model_dump(mode="json"),
            status_code=201,
            headers={"Cache-Control": "no-store"},
        )

    @api.delete("/{id}", name="revoke_api_key")
    async def revoke_key(request: Request, path: ApiKeyPath) -> None:
        """Revoke one of your API keys: it stops working at once."""
        user_id = user_id_from(signed_in_user(request).id)
        revoked = await keys(request).revoke(user_id, path.id) if user_id is not None else None
        if revoked is None:
            raise ProblemError(404, "You have no API key with this id.")
        await auth.audit(
            request, "api_key.revoked", subject_id=user_id,
            details={"key_id": revoked.id, "name": revoked.name},
        )  # fmt: skip

    return api


def admin_api_keys_controller(auth: Auth) -> Controller:
    """The admins' routes of another user's API keys (a leaked key to stop), for
    `create_app`."""
    config = auth.config
    api = Controller(f"{config.prefix}/users/{{id}}/api-keys", tags=["users"], cache_ttl=0)
    admin = config.admin_role

    def keys(request: Request) -> ApiKeys:
        return _keys_for_a_session(auth, request)

    @api.get("", name="admin_list_api_keys", response=list[ApiKeyOut], roles=[admin])
    async def list_user_keys(request: Request, path: UserPath) -> list[dict[str, Any]]:
        """A user's API keys, newest first (never their text)."""
        return [_out(key) for key in await keys(request).list(path.id)]

    @api.delete("/{key_id}", name="admin_revoke_api_key", roles=[admin])
    async def revoke_user_key(request: Request, path: UserApiKeyPath) -> None:
        """Revoke one of a user's API keys: it stops working at once."""
        revoked = await keys(request).revoke(path.id, path.key_id)
        if revoked is None:
            raise ProblemError(404, "This user has no API key with this id.")
        await auth.audit(
            request, "api_key.revoked", subject_id=path.id,
            details={"key_id": revoked.id, "name": revoked.name, "by": "an admin"},
        )  # fmt: skip

    return api
