"""`AuthConfig`: what an app chooses about authentication; `Auth`: the parts built from it.

    app = create_app(user_model=User)                       # the defaults
    app = create_app(auth=AuthConfig(User, login_limit_per_account="3/minute"))

`create_app` builds an `Auth` from the config, the settings and its stores, adds
its middleware and serves its routes under `/api/auth` (the admins' under
`/api/auth/users`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from pydantic import BaseModel
from starlette.requests import Request

from stackkit.auth.api_keys import ApiKeys
from stackkit.auth.audit import AuditLog, user_id_from
from stackkit.auth.authentication import AuthenticationBackend
from stackkit.auth.devices import DeviceCookies
from stackkit.auth.keys import TokenKeys
from stackkit.auth.links import EmailedTokens
from stackkit.auth.mail import MailBackend, mail_backend_for
from stackkit.auth.passwords import PasswordHasher, PasswordPolicy
from stackkit.auth.refresh import RefreshSessions
from stackkit.auth.resets import PasswordResets
from stackkit.auth.schemas import UserOut
from stackkit.auth.sessions import SessionStore
from stackkit.auth.tokens import AccessTokens
from stackkit.auth.trusted_devices import TrustedDevices
from stackkit.auth.two_factor import TwoFactor
from stackkit.auth.users import UserService
from stackkit.auth.verification import EmailVerifications
from stackkit.cache.store import Store
from stackkit.db.database import Database
from stackkit.db.model import Model
from stackkit.http.asgi import Network, client_address
from stackkit.http.routing import ADMIN_ROLE
from stackkit.jobs import Job
from stackkit.ratelimit.limiter import RateLimiter
from stackkit.settings import Settings

__all__ = ["Auth", "AuthConfig", "token_keys_for"]


@dataclass(frozen=True)
class AuthConfig:
    """Authentication of an app. Deployment choices (keys, lifetimes, mail server) are
    settings; these are the app's own."""

    user_model: type[Model]
    """The user table: a `Model` with `UserMixin`'s columns."""
    user_service: type[UserService[Any]] | None = None
    """The service with the account rules; default `UserService.for_model(user_model)`."""
    user_read: type[BaseModel] = UserOut
    """What `GET /api/auth/me`, `POST /api/auth/register` and the admin routes under
    `/api/auth/users` answer with."""
    admin_role: str = ADMIN_ROLE
    """The app's admin role: its holders manage users at `/api/auth/users` and see every
    row of owned resources; `stackkit user create --admin` grants it, and `/api/meta`
    tells the frontend."""
    hasher: PasswordHasher = field(default_factory=PasswordHasher)
    """Hashes passwords: argon2id with OWASP's parameters."""
    policy: PasswordPolicy = field(default_factory=PasswordPolicy)
    """What a new password must satisfy."""
    mail: MailBackend | None = None
    """Sends the password-reset emails; default from `STACKKIT_SMTP_URL`."""
    prefix: str = "/api/auth"
    """Where the routes live; the refresh cookie is scoped to this path."""
    login_limit_per_address: str = "10/minute;100/hour"
    """Sign-in attempts from one address (checked even when the limiter's store is away)."""
    login_limit_per_account: str = "5/minute;30/hour"
    """Sign-in attempts for one email, from anywhere, except those a device cookie
    vouches for (see `device_cookie_attempts`)."""
    register_limit: str = "5/minute;50/hour"
    """Registrations from one address."""
    reset_limit: str = "5/hour"
    """Password-reset emails asked from one address, and for one email."""
    verification_limit: str = "3/hour"
    """Verification links sent again, asked from one address, and for one account; and
    changes of address one user asks."""
    email_verification_ttl: float = 86400
    """Seconds a link to verify an email address, or to confirm a new one, works."""
    refresh_grace: float = 10
    """Seconds the previous refresh token still yields the current one (see `RefreshSessions`)."""
    password_reset_ttl: float = 3600
    """Seconds a password-reset link works."""
    cookie_name: str = "stackkit_refresh"
    """Name of the httpOnly cookie that carries the refresh token for browsers."""
    device_cookie_name: str = "stackkit_device"
    """Name of the httpOnly cookie a successful sign-in leaves in the browser, so that
    its later sign-ins are not held up by the account's limit (`stackkit.auth.devices`)."""
    device_cookie_ttl: float = 30 * 86400
    """Seconds a device cookie lives (each successful sign-in gives a new one)."""
    device_cookie_attempts: int = 10
    """Sign-ins one device cookie vouches for, past the account's limit; then its
    sign-ins count against the account like anyone's. 0 turns device cookies off."""
    api_keys: bool = True
    """Users may make API keys (`stackkit.auth.api_keys`), accepted as bearer tokens."""
    api_keys_per_user: int = 25
    """API keys one user may hold at once."""
    two_factor: bool = True
    """Users may turn on two-factor sign-in (`stackkit.auth.two_factor`)."""
    two_factor_issuer: str | None = None
    """The name authenticator apps show beside the account; default the app's title."""
    two_factor_challenge_ttl: float = 300
    """Seconds the second step of a sign-in may follow the first."""
    trusted_device_cookie_name: str = "stackkit_trusted_device"
    """Name of the httpOnly cookie of a browser trusted at the second step."""
    trusted_device_ttl: float = 30 * 86400
    """Seconds a trusted browser skips the second step."""
    backends: Sequence[AuthenticationBackend] = ()
    """Ways in besides the bearer access token, asked in order after it (an API key
    header, say): see `stackkit.auth.authentication`."""


@dataclass
class Auth:
    """The parts the middleware and the routes share, built once per app."""

    config: AuthConfig
    settings: Settings
    tokens: AccessTokens
    sessions: SessionStore
    refresh: RefreshSessions
    resets: PasswordResets
    verifications: EmailedTokens
    """The tokens of the links that verify an email address."""
    email_changes: EmailedTokens
    """The tokens of the links that confirm a new email address."""
    devices: DeviceCookies
    limiter: RateLimiter
    mail: MailBackend
    service_class: type[UserService[Any]]
    reset_job: Job[Any] | None = None
    """Sends the reset emails through the app's job queue (`create_app(jobs=...)` sets
    it); None: after the answer, in the process."""
    account_email_job: Job[Any] | None = None
    """Sends the other account emails (`stackkit.auth.account_mail`) the same way."""
    api_keys: ApiKeys | None = None
    """Users' API keys (`create_app` sets it when the app has a database and
    `AuthConfig.api_keys` is on)."""
    two_factor: TwoFactor | None = None
    """Users' second factors (`create_app` sets it when the app has a database and
    `AuthConfig.two_factor` is on)."""
    trusted_devices: TrustedDevices = field(init=False)
    """The browsers trusted at the second step of a sign-in."""
    challenges: EmailedTokens = field(init=False)
    """The challenges between the two steps of a sign-in."""
    secret_keys: list[str] = field(default_factory=list, repr=False)
    """`SECRET_KEY`, then its fallbacks."""

    def __post_init__(self) -> None:
        store = self.sessions.store
        ttl = self.config.trusted_device_ttl
        self.trusted_devices = TrustedDevices(store, ttl=ttl, max_lifetime=ttl)
        self.challenges = EmailedTokens(
            store, purpose="two-factor-challenge", ttl=self.config.two_factor_challenge_ttl
        )

    @classmethod
    def build(
        cls, config: AuthConfig, settings: Settings, *, store: Store, limiter: RateLimiter
    ) -> Auth:
        """Raises `ValueError` for keys that cannot sign (a short secret, a bad key file)."""
        sessions = SessionStore(
            store, ttl=settings.session_ttl, max_lifetime=settings.session_max_lifetime
        )
        tokens = AccessTokens(
            token_keys_for(settings),
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            ttl=settings.access_token_ttl,
        )
        mail = config.mail or mail_backend_for(
            settings.smtp_url.get_secret_value(),
            sender=settings.mail_from,
            production=settings.is_production,
        )
        secret_keys = [
            key.get_secret_value() for key in (settings.secret_key, *settings.secret_key_fallbacks)
        ]
        return cls(
            config=config,
            settings=settings,
            tokens=tokens,
            sessions=sessions,
            refresh=RefreshSessions(sessions, grace=config.refresh_grace, secret_keys=secret_keys),
            resets=PasswordResets(store, ttl=config.password_reset_ttl),
            verifications=EmailedTokens(
                store, purpose="email-verify", ttl=config.email_verification_ttl
            ),
            email_changes=EmailedTokens(
                store, purpose="email-change", ttl=config.email_verification_ttl
            ),
            devices=DeviceCookies(
                store,
                secret_keys=secret_keys,
                ttl=config.device_cookie_ttl,
                attempts=config.device_cookie_attempts,
            ),
            limiter=limiter,
            mail=mail,
            service_class=config.user_service or UserService.for_model(config.user_model),
            secret_keys=secret_keys,
        )

    async def granted_roles(self, user: Any) -> list[str]:
        """The roles `user`'s tokens carry: theirs, less those `STACKKIT_REQUIRE_2FA_FOR`
        grants only with two-factor sign-in on, while it is off."""
        roles = list(user.roles or ())
        needing = set(self.settings.require_2fa_for).intersection(roles)
        if not needing:
            return roles
        if self.two_factor is not None and await self.two_factor.is_enabled(user.id):
            return roles
        return [role for role in roles if role not in needing]

    async def email_verified(self, database: Database, user: Any) -> bool:
        """Whether the app counts `user`'s address as verified: they proved it, or the
        app does not verify addresses (`STACKKIT_EMAIL_VERIFICATION` off: no query)."""
        if not self.settings.verifies_email:
            return True
        return await EmailVerifications(database).verified_at(user.id, user.email) is not None

    @cached_property
    def trusted_proxies(self) -> list[Network]:
        return [ipaddress.ip_network(p, strict=False) for p in self.settings.trusted_proxies]

    async def audit(
        self,
        request: Request,
        event: str,
        *,
        subject_id: int | None,
        actor_id: int | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Record `event` (one of `stackkit.auth.audit.AUDIT_EVENTS`) with the request's
        address and user agent. `actor_id` defaults to the signed-in caller, if any."""
        user = request.scope.get("user")
        if actor_id is None and getattr(user, "is_authenticated", False):
            actor_id = user_id_from(getattr(user, "id", ""))
        await AuditLog(request.app.state.database).record(
            event,
            subject_id=subject_id,
            actor_id=actor_id,
            address=client_address(request.scope, self.trusted_proxies),
            user_agent=request.headers.get("user-agent"),
            details=details,
        )

    def users(self, database: Database) -> UserService[Any]:
        """The user service, wired to this app's hasher, policy and sessions."""
        return self.service_class(
            database,
            hasher=self.config.hasher,
            policy=self.config.policy,
            sessions=self.refresh,
            api_keys=self.api_keys,
            two_factor=self.two_factor,
            trusted_devices=self.trusted_devices,
        )


def token_keys_for(settings: Settings) -> TokenKeys:
    """The access-token keys the settings name (HS256 from `SECRET_KEY` by default)."""
    if settings.jwt_algorithm == "HS256":
        return TokenKeys.from_secret(
            settings.secret_key.get_secret_value(),
            [key.get_secret_value() for key in settings.secret_key_fallbacks],
        )
    assert settings.jwt_private_key_file is not None  # the settings require it
    return TokenKeys.from_files(
        settings.jwt_algorithm, settings.jwt_private_key_file, settings.jwt_public_key_files
    )
