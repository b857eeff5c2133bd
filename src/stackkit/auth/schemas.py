"""The request and response bodies of the auth API."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from stackkit.auth.emails import normalize_email

__all__ = [
    "Credentials",
    "Email",
    "EmailChangeIn",
    "EmailFragment",
    "EmailOut",
    "EmailVerificationIn",
    "LogoutIn",
    "PasswordChange",
    "PasswordResetConfirm",
    "PasswordResetRequest",
    "RefreshIn",
    "SessionOut",
    "TokenPair",
    "UserAdminUpdate",
    "UserOut",
    "VerificationResendIn",
]

# Raw text longer than this is refused before any work: NFKC and the checks are
# linear, but there is no reason to run them on megabytes.
MAX_EMAIL_INPUT_LENGTH = 320
Email = Annotated[
    str,
    StringConstraints(max_length=MAX_EMAIL_INPUT_LENGTH),
    AfterValidator(normalize_email),
    Field(
        description="An email address. It is normalised (NFKC, lower case, surrounding "
        "spaces dropped) and refused with invisible, control or bidirectional "
        "characters, or beyond RFC 5321's lengths; see docs/auth.md.",
        json_schema_extra={"format": "email"},
    ),
]
"""An email address, normalised by `normalize_email` (a 422 naming the field when refused)."""
EmailFragment = Annotated[
    str,
    StringConstraints(max_length=MAX_EMAIL_INPUT_LENGTH),
    AfterValidator(partial(normalize_email, partial=True)),
]
"""A part of an email address (a search term), folded and refused as `Email` is."""
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


class TwoFactorChallenge(BaseModel):
    """`/login`'s answer for an account with two-factor sign-in: no tokens yet."""

    two_factor_required: Literal[True] = True
    challenge: str = Field(description="Send it to /api/auth/login/two-factor with a code.")
    expires_in: int = Field(description="Seconds the challenge lives.")


class SecondStepIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    challenge: str = Field(min_length=1, max_length=100)
    code: str = Field(
        min_length=1,
        max_length=32,
        description="The authenticator app's current code, or one of the recovery codes.",
    )
    trust_device: bool = Field(
        False, description="Skip the code at this browser's sign-ins for 30 days."
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


class EmailOut(BaseModel):
    email: str
    verification: bool = Field(description="Whether this app verifies addresses.")
    verified_at: datetime | None = Field(
        description="When the user proved they read it; null: not (or not verified here)."
    )


class EmailChangeIn(BaseModel):
    new_email: Email
    password: str = PASSWORD_FIELD


class EmailVerificationIn(BaseModel):
    token: str = Field(min_length=1, max_length=100, description="The token of the link.")


class VerificationResendIn(BaseModel):
    email: Email | None = Field(
        default=None, description="The account's email; leave it out when signed in."
    )


class PasswordResetConfirm(BaseModel):
    token: str = Field(min_length=1, max_length=100)
    new_password: str = PASSWORD_FIELD
