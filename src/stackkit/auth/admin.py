"""The admins' user management: `users_controller(auth)` serves it under `/api/auth/users`.

| route | does |
|---|---|
| `GET /users` | `{items, next_cursor}` by id; `limit`, `cursor`, `email` (contains, normalised) |
| `PATCH /users/{id}` `{roles?, is_active?}` | the user; new roles or disabling end sessions |
| `DELETE /users/{id}` | 204; their sessions end, and the rows they own go with them |

Only holders of `AuthConfig.admin_role` get through (403 for other users, 401
without a token). An admin cannot remove their own admin role, disable or delete
themselves (409), so that nobody locks the last admin out by accident.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request

from stackkit.auth.api import signed_in_user
from stackkit.auth.config import Auth
from stackkit.auth.schemas import EmailFragment, UserAdminUpdate
from stackkit.auth.users import UserService
from stackkit.db.model import MAX_ID
from stackkit.db.repository import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from stackkit.errors import ProblemError
from stackkit.http.pages import page_model
from stackkit.http.routing import Controller

__all__ = ["users_controller"]


class UserPath(BaseModel):
    id: int = Field(ge=1, le=MAX_ID, description="The user's id.")


class UserListQuery(BaseModel):
    # A misspelt filter is an error rather than a list of everyone.
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE, description="Page size.")
    cursor: str | None = Field(None, description="next_cursor of the previous page.")
    email: EmailFragment | None = Field(
        None,
        description="Only the users whose email contains this, whatever its case or "
        "width (it is normalised as emails are; invisible characters are refused).",
    )


def _refuse_for_oneself(request: Request, id: int, detail: str) -> None:
    if str(request.user.id) == str(id):
        raise ProblemError(409, detail)


def users_controller(auth: Auth) -> Controller:
    """The admins' user routes, for `create_app` (which also sets `app.state.auth`)."""
    config = auth.config
    admin = config.admin_role
    api = Controller(f"{config.prefix}/users", tags=["users"], cache_ttl=0)
    users_page = page_model(f"{config.user_read.__name__}Page", config.user_read)

    def users(request: Request) -> UserService[Any]:
        return auth.users(request.app.state.database)

    @api.get("", name="admin_list_users", response=users_page, roles=[admin])
    async def list_users(request: Request, query: UserListQuery) -> dict[str, Any]:
        """List the users, by id."""
        filters = {"email__contains": query.email} if query.email else {}
        page = await users(request).page(filters, sort="id", limit=query.limit, cursor=query.cursor)
        return {"items": page.items, "next_cursor": page.next_cursor}

    @api.patch(
        "/{id}", name="admin_update_user", response=config.user_read, roles=[admin],
    )  # fmt: skip
    async def update_user(request: Request, path: UserPath, body: UserAdminUpdate) -> Any:
        """Change a user's roles or whether the account is active. Changed roles and a
        disabling end the user's sessions; values the user already has change nothing."""
        # A change to an account needs an admin's session: an API key, were it leaked,
        # must not be a way to lock the others out.
        signed_in_user(request)
        if body.roles is not None and admin not in body.roles:
            _refuse_for_oneself(
                request, path.id, f"You cannot remove your own {admin} role: ask another admin."
            )
        if body.is_active is False:
            _refuse_for_oneself(
                request, path.id, "You cannot disable your own account: ask another admin."
            )
        service = users(request)
        user = await service.get(path.id)
        if body.roles is not None and sorted(set(body.roles)) != sorted(user.roles):
            before = sorted(user.roles)
            user = await service.set_roles(path.id, body.roles)
            await auth.audit(
                request, "user.roles_changed", subject_id=path.id,
                details={"before": before, "after": sorted(user.roles)},
            )  # fmt: skip
        if body.is_active is not None and body.is_active != user.is_active:
            user = await service.set_active(path.id, body.is_active)
            event = "user.enabled" if body.is_active else "user.disabled"
            await auth.audit(request, event, subject_id=path.id)
        return user

    @api.delete("/{id}", name="admin_delete_user", roles=[admin])
    async def delete_user(request: Request, path: UserPath) -> None:
        """Delete a user; their sessions end, and the rows they own (`owner_column()`)
        are deleted with them."""
        signed_in_user(request)  # a session, not an API key (see above)
        _refuse_for_oneself(
            request, path.id, "You cannot delete your own account: ask another admin."
        )
        await users(request).delete(path.id)
        await auth.audit(request, "user.deleted", subject_id=path.id)

    return api
