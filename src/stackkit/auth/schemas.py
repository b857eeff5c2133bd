"""The request and response bodies of the auth API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

__all__ = [
    "Credentials",
    "LogoutIn",
    "PasswordChange",
    "PasswordResetConfirm",
    "PasswordResetRequest",
    "RefreshIn",
    "SessionOut",
    "TokenPair",
    "UserAdminUpdate",
    "UserOut",
]

# Enough to refuse what is not an address; the mail server has the last word.
_NOT_IN_EMAIL = r"@\s\x00-\x1f\x7f"
Email = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True,
        max_length=320,
        pattern=rf"^[^{_NOT_IN_EMAIL}]+@[^{_NOT_IN_EMAIL}]+\.[^{_NOT_IN_EMAIL}]+$",
    ),
]
# Longer than any policy allows, short enough that nobody makes the server hash megabytes.
PASSWORD_FIELD = Field(min_length=1, max_length=1024)


class Credentials(BaseModel):
    email: Email
    password: str = PASSWORD_FIELD


class TokenPair(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 (a token type, not a secret)
    expires_in: int = Field(description="Seconds the access token lives.")
    refresh_token: str = Field(
        description="Spend it at /api/auth/refresh for the next pair; browsers get it "
        "in an httpOnly cookie as well, and should keep it nowhere else."
    )


class RefreshIn(BaseModel):
    refresh_token: str | None = Field(
        default=None, description="Omit it to use the refresh cookie (browsers)."
    )


class LogoutIn(RefreshIn):
    pass


class UserOut(BaseModel):
    id: int
    email: str
    roles: list[str]
    is_active: bool
    created_at: datetime
    last_login_at: datetime | None = None


# Roles travel in every access token and are compared as they are: short, plain names.
Role = Annotated[str, StringConstraints(pattern=r"^[a-z0-9_-]{1,64}$")]
MAX_ROLES = 20


class UserAdminUpdate(BaseModel):
    """What an admin changes on a user; fields left out stay as they are."""

    model_config = ConfigDict(extra="forbid")

    roles: list[Role] | None = Field(
        default=None,
        max_length=MAX_ROLES,
        description="The user's new roles (replacing the old ones), each 1 to 64 characters "
        "of a-z, 0-9, _ and -. Their sessions end, since their tokens carry the old roles.",
    )
    is_active: bool | None = Field(
        default=None, description="False disables the account and ends its sessions."
    )


class SessionOut(BaseModel):
    id: str
    created_at: datetime
    expires_at: datetime
    last_refreshed_at: datetime
    user_agent: str | None = None
    address: str | None = None
    current: bool = Field(description="The session of the token making this request.")


class PasswordChange(BaseModel):
    current_password: str = PASSWORD_FIELD
    new_password: str = PASSWORD_FIELD


class PasswordResetRequest(BaseModel):
    email: Email


class PasswordResetConfirm(BaseModel):
    token: str = Field(min_length=1, max_length=100)
    new_password: str = PASSWORD_FIELD
