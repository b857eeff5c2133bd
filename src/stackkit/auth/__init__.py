"""Authentication: passwords, access tokens, refresh sessions, the middleware and the auth API.

The ready-made user table is `stackkit.auth.user.User`, imported on its own so that
apps with a user model of their own do not get a second `users` table.
"""

from __future__ import annotations

from stackkit.auth.admin import users_controller
from stackkit.auth.api import auth_controller, current_user
from stackkit.auth.audit import AUDIT_EVENTS, AuditEntry, AuditLog
from stackkit.auth.authentication import (
    AuthenticationBackend,
    AuthenticationFailed,
    BearerTokenBackend,
    Principal,
)
from stackkit.auth.config import Auth, AuthConfig, token_keys_for
from stackkit.auth.devices import DeviceCookie, DeviceCookies
from stackkit.auth.emails import InvalidEmail, normalize_email
from stackkit.auth.keys import TokenKeys
from stackkit.auth.mail import (
    ConsoleMailBackend,
    MailBackend,
    MailError,
    MailMessage,
    MemoryMailBackend,
    SMTPMailBackend,
    UnconfiguredMailBackend,
    mail_backend_for,
)
from stackkit.auth.middleware import AuthenticatedUser, AuthenticationMiddleware
from stackkit.auth.passwords import (
    PasswordCheck,
    PasswordHasher,
    PasswordPolicy,
    PasswordPolicyError,
    is_common_password,
)
from stackkit.auth.refresh import (
    InvalidRefreshToken,
    RefreshGrant,
    RefreshSessions,
    RefreshTokenReused,
)
from stackkit.auth.resets import PasswordResets
from stackkit.auth.schemas import UserAdminUpdate, UserOut
from stackkit.auth.sessions import Session, SessionStore
from stackkit.auth.tokens import AccessClaims, AccessTokens, InvalidToken, IssuedToken
from stackkit.auth.users import UserMixin, UserRepository, UserService
from stackkit.http.routing import requires
from stackkit.lazy import lazy_attributes

__all__ = [
    "AUDIT_EVENTS",
    "AccessClaims",
    "AccessTokens",
    "AuditEntry",
    "AuditLog",
    "Auth",
    "AuthConfig",
    "AuthenticatedUser",
    "AuthenticationBackend",
    "AuthenticationFailed",
    "AuthenticationMiddleware",
    "BearerTokenBackend",
    "ConsoleMailBackend",
    "DeviceCookie",
    "DeviceCookies",
    "InvalidEmail",
    "InvalidRefreshToken",
    "InvalidToken",
    "IssuedToken",
    "MailBackend",
    "MailError",
    "MailMessage",
    "MemoryMailBackend",
    "PasswordCheck",
    "PasswordHasher",
    "PasswordPolicy",
    "PasswordPolicyError",
    "PasswordResets",
    "Principal",
    "RefreshGrant",
    "RefreshSessions",
    "RefreshTokenReused",
    "SMTPMailBackend",
    "Session",
    "SessionStore",
    "TokenKeys",
    "UnconfiguredMailBackend",
    "UserAdminUpdate",
    "UserMixin",
    "UserOut",
    "UserRepository",
    "UserService",
    "auth_controller",
    "current_user",
    "is_common_password",
    "mail_backend_for",
    "normalize_email",
    "requires",
    "token_keys_for",
    "users_controller",
]


__getattr__ = lazy_attributes(__name__)  # a submodule, imported on first use
