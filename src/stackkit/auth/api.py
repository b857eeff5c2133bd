"""The auth API: `auth_controller(auth)` serves it under `/api/auth`.

| route | does |
|---|---|
| `POST /register` `{email, password}` | 201, the user |
| `POST /login` `{email, password}` | a token pair, and the refresh cookie |
| `POST /refresh` `{refresh_token}` or the cookie | the next pair; the old refresh token is spent |
| `POST /logout` | 204; the session ends, the cookie is cleared |
| `GET /me` | the signed-in user |
| `GET /sessions`, `DELETE /sessions/{id}` | one's sessions; end one |
| `DELETE /sessions` | end them all (log out everywhere) |
| `POST /password` `{current_password, new_password}` | 204; the other sessions end |
| `POST /password-reset` `{email}` | 202, whether or not the email has an account |
| `POST /password-reset/confirm` `{token, new_password}` | 204; every session ends |

The admins' routes under `/users` are `stackkit.auth.admin.users_controller`.

Token answers carry `Cache-Control: no-store`. The refresh cookie is httpOnly,
Secure, `SameSite=Strict` and scoped to the auth path; a request that uses it
must come from the app's own origin or one of `STACKKIT_CORS_ORIGINS` (its
`Origin` header says so), or, without `Origin`, carry `X-Requested-With`, which
no cross-site form can send. A sign-in also leaves a device cookie, alike in its
attributes, that exempts the browser's next sign-ins to that account from the
account's limit (`stackkit.auth.devices`).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, Field
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response

from stackkit.auth.account_mail import mail_after_answer
from stackkit.auth.audit import user_id_from
from stackkit.auth.config import Auth
from stackkit.auth.mail import MailError
from stackkit.auth.middleware import AuthenticatedUser
from stackkit.auth.refresh import InvalidRefreshToken, RefreshGrant, RefreshTokenReused
from stackkit.auth.reset_mail import send_reset_email
from stackkit.auth.resets import password_fingerprint
from stackkit.auth.schemas import (
    Credentials,
    LogoutIn,
    PasswordChange,
    PasswordResetConfirm,
    PasswordResetRequest,
    RefreshIn,
    SecondStepIn,
    SessionOut,
    TokenPair,
    TwoFactorChallenge,
)
from stackkit.auth.users import UserService
from stackkit.auth.verification import email_digest
from stackkit.errors import ConflictError, NotFoundError, ProblemError
from stackkit.http.asgi import client_address
from stackkit.http.routing import EMAIL_NOT_VERIFIED, Controller
from stackkit.ratelimit.limiter import RateLimited

__all__ = ["account_key", "auth_controller", "current_user", "signed_in_user", "users_of"]

logger = logging.getLogger("stackkit.auth")


class SessionPath(BaseModel):
    id: str = Field(max_length=100, description="The session's id.")


def _invalid_credentials() -> ProblemError:
    # One message for an unknown email, a wrong password and a disabled account.
    return ProblemError(401, "Invalid email or password.", headers={"WWW-Authenticate": "Bearer"})


def account_key(purpose: str, email: str) -> str:
    """The rate limiter's key of `purpose` (`login`, `reset`, ...) for the account of
    `email`, whether or not it has one: a digest, so that keys name no address."""
    return f"{purpose}:account:{email_digest(email)[:32]}"


MAX_SECOND_STEP_TRIES = 5
"""Wrong codes one sign-in's challenge takes before it dies."""


def challenge_key(challenge: str) -> str:
    """The rate limiter's key of a second-step challenge: a digest, not the challenge."""
    return hashlib.sha256(challenge.encode()).hexdigest()[:32]


def signed_in_user(request: Request) -> AuthenticatedUser:
    """The user whose access token signed this request in.

    Routes about a user's own account and sessions ask for this, not just any
    principal: another authentication backend's caller (an API key) has no session,
    and an id that happens to equal a user's must not act on that user's sessions.

    Raises:
        ProblemError: 401 when the caller did not sign in with an access token.
    """
    user = request.scope.get("user")
    if not isinstance(user, AuthenticatedUser):
        if getattr(user, "is_authenticated", False):
            raise ProblemError(
                401,
                "This route needs a signed-in session (an access token): API keys and "
                "other credentials are not accepted here.",
                headers={"WWW-Authenticate": "Bearer"},
            )
        raise ProblemError(401, "This route needs authentication.")
    return user


async def current_user(request: Request) -> Any:
    """The signed-in user's row.

    Raises:
        ProblemError: 401 when nobody is signed in, or the user is gone or disabled.
    """
    user = signed_in_user(request)
    auth: Auth = request.app.state.auth
    try:
        row = await users_of(request).get(int(user.id))
    except (NotFoundError, ValueError):
        row = None
    if row is None or not row.is_active:
        await auth.sessions.revoke(user.session_id)
        raise ProblemError(401, "This account no longer exists or is disabled.")
    return row


def users_of(request: Request) -> UserService[Any]:
    """The app's user service."""
    auth: Auth = request.app.state.auth
    return auth.users(request.app.state.database)


def auth_controller(auth: Auth) -> Controller:
    """The auth routes, for `create_app` (which also sets `app.state.auth`)."""
    config, settings = auth.config, auth.settings
    api = Controller(config.prefix, tags=["auth"], cache_ttl=0)  # answers are per caller
    public = urlsplit(settings.public_url)
    allowed_origins = {f"{public.scheme}://{public.netloc}".lower(), *settings.cors_origins}
    allowed_origins.discard("*")

    async def token_response(
        request: Request, user: Any, grant: RefreshGrant, verified: bool | None = None
    ) -> Response:
        if verified is None:
            verified = await auth.email_verified(request.app.state.database, user)
        roles = await auth.granted_roles(user)
        issued = auth.tokens.issue(str(user.id), grant.session.id, roles, email_verified=verified)
        pair = TokenPair(
            access_token=issued.token, expires_in=issued.expires_in,
            refresh_token=grant.refresh_token,
        )  # fmt: skip
        response = Response(
            pair.model_dump_json(),
            media_type="application/json",
            headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
        )
        max_age = max(0, int(grant.session.expires_at - time.time()))
        set_auth_cookie(response, config.cookie_name, grant.refresh_token, max_age)
        return response

    def set_auth_cookie(response: Response, name: str, value: str, max_age: float) -> None:
        """A cookie only the auth routes read: httpOnly, Secure, SameSite=Strict."""
        response.set_cookie(
            name,
            value,
            max_age=int(max_age),
            path=config.prefix,
            secure=settings.refresh_cookie_secure,
            httponly=True,
            samesite="strict",
        )

    def set_device_cookie(response: Response, email: str) -> None:
        if not auth.devices.enabled:
            return
        cookie = auth.devices.issue(email)
        set_auth_cookie(response, config.device_cookie_name, cookie.value, config.device_cookie_ttl)

    async def audit_signin(request: Request, event: str, email: str) -> None:
        """A refused sign-in: about the account of `email`, or, with none, the email."""
        found = await users_of(request).get_by_email(email)
        await auth.audit(
            request, event, subject_id=found.id if found is not None else None,
            details={} if found is not None else {"email": email},
        )  # fmt: skip

    def refresh_token_of(request: Request, body: RefreshIn) -> str | None:
        """The body's refresh token, else the cookie's, checked to come from our site.

        Raises:
            ProblemError: 403 for a cookie sent by another site.
        """
        if body.refresh_token:
            return body.refresh_token
        cookie = request.cookies.get(config.cookie_name)
        if cookie:
            _check_same_origin(request, allowed_origins)
        return cookie

    @api.post(
        "/register", public=True, status_code=201, response=config.user_read,
        rate_limit=config.register_limit, rate_limit_by="address",
    )  # fmt: skip
    async def register(request: Request, body: Credentials) -> Any:
        """Create an account. With email verification on, the answer is 202 whether or
        not the email had an account: a new account is mailed a link to verify its
        address, the owner of an existing one a note that someone tried."""
        if not settings.registration_open:
            raise ProblemError(403, "Registration is closed on this server.")
        users = users_of(request)
        if not settings.verifies_email:
            user = await users.register(body.email, body.password)
            await auth.audit(request, "user.registered", subject_id=user.id, actor_id=user.id)
            return user
        database = request.app.state.database
        try:
            # The password is hashed before the email is found taken: the same work.
            user = await users.register(body.email, body.password)
        except ConflictError:
            owner = await users.get_by_email(body.email)
            decision = await auth.limiter.hit(
                account_key("register-again", body.email), config.verification_limit
            )
            task = None
            if owner is not None and decision.allowed:
                task = await mail_after_answer(auth, database, "registered-again", user_id=owner.id)
            return Response(status_code=202, background=task)
        await auth.audit(request, "user.registered", subject_id=user.id, actor_id=user.id)
        task = await mail_after_answer(auth, database, "verify", user_id=user.id)
        return Response(status_code=202, background=task)

    @api.post(
        "/login", public=True, response=TokenPair | TwoFactorChallenge,
        rate_limit=config.login_limit_per_address, rate_limit_fail_closed=True,
        rate_limit_by="address",
    )  # fmt: skip
    async def login(request: Request, body: Credentials) -> Response:
        """Sign in: a token pair, and the refresh cookie for browsers. A browser's
        device cookie from an earlier sign-in to the account spares it the account's
        limit, which anyone can spend by guessing."""
        device = request.cookies.get(config.device_cookie_name)
        users = users_of(request)
        if not await auth.devices.admit(device, body.email):
            try:
                await auth.limiter.enforce(
                    account_key("login", body.email),
                    config.login_limit_per_account,
                    fail_open=False,
                )
            except RateLimited:
                await audit_signin(request, "signin.throttled", body.email)
                raise
        user = await users.authenticate(body.email, body.password)
        if user is None:
            await audit_signin(request, "signin.failed", body.email)
            raise _invalid_credentials()
        verified = await auth.email_verified(request.app.state.database, user)
        if settings.require_verified_email and not verified:
            # Told only to whoever knows the password.
            await auth.audit(
                request, "signin.failed", subject_id=user.id,
                details={"reason": "email not verified"},
            )  # fmt: skip
            raise ProblemError(
                403,
                "Verify your email address before signing in: open the link we sent to "
                "it, or ask for a new one.",
                code=EMAIL_NOT_VERIFIED,
            )
        if auth.two_factor is not None and await auth.two_factor.is_enabled(user.id):
            trusted = request.cookies.get(config.trusted_device_cookie_name)
            if not trusted or not await auth.trusted_devices.is_alive(trusted, str(user.id)):
                challenge = await auth.challenges.issue({"user_id": user.id, "verified": verified})
                answer = TwoFactorChallenge(
                    challenge=challenge, expires_in=int(auth.challenges.ttl)
                )
                return Response(
                    answer.model_dump_json(),
                    media_type="application/json",
                    headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
                )
        return await complete_signin(request, user, verified, {})

    @api.post(
        "/login/two-factor", public=True, response=TokenPair,
        rate_limit=config.login_limit_per_address, rate_limit_fail_closed=True,
        rate_limit_by="address",
    )  # fmt: skip
    async def second_step(request: Request, body: SecondStepIn) -> Response:
        """The sign-in's second step: the challenge `/login` answered with, and the
        authenticator app's code or a recovery code. A challenge lives 5 minutes and
        takes 5 wrong codes; the codes count against the account's limit."""
        over = ProblemError(401, "This sign-in expired or failed too often: sign in again.")
        two_factor = auth.two_factor
        claim = await auth.challenges.peek(body.challenge)
        if two_factor is None or claim is None:
            raise over
        tries = await auth.limiter.hit(
            "second-step:" + challenge_key(body.challenge), f"{MAX_SECOND_STEP_TRIES}/hour"
        )
        if not tries.allowed:
            await auth.challenges.redeem(body.challenge)
            raise over
        users = users_of(request)
        try:
            user = await users.get(int(claim["user_id"]))
        except NotFoundError:
            raise over from None
        if not user.is_active:
            raise over
        try:
            await auth.limiter.enforce(
                account_key("second-step", user.email),
                config.login_limit_per_account,
                fail_open=False,
            )
        except RateLimited:
            await auth.audit(
                request, "signin.throttled", subject_id=user.id, details={"step": "code"}
            )
            raise
        factor = "app"
        if not await two_factor.verify(user.id, body.code):
            factor = "recovery code"
            if not await two_factor.use_recovery_code(user.id, body.code):
                await auth.audit(
                    request, "signin.failed", subject_id=user.id, details={"reason": "wrong code"}
                )
                raise ProblemError(401, "This code is not right, or was used already.")
        if await auth.challenges.redeem(body.challenge) is None:
            raise over  # spent meanwhile by a parallel request with another code
        if factor == "recovery code":
            await auth.audit(request, "two_factor.recovery_code_used", subject_id=user.id)
        response = await complete_signin(
            request, user, bool(claim.get("verified", True)), {"second_factor": factor}
        )
        if body.trust_device:
            device = await auth.trusted_devices.create(
                str(user.id),
                {
                    "user_agent": request.headers.get("user-agent", "")[:200] or None,
                    "address": client_address(request.scope, auth.trusted_proxies),
                },
            )
            set_auth_cookie(
                response, config.trusted_device_cookie_name, device.id, config.trusted_device_ttl
            )
        return response

    async def complete_signin(
        request: Request, user: Any, verified: bool, details: dict[str, Any]
    ) -> Response:
        """A new session for `user`, who proved who they are: the token pair, the
        refresh and device cookies, and the event."""
        users = users_of(request)
        grant = await auth.refresh.start(
            str(user.id),
            user_agent=request.headers.get("user-agent", "")[:200] or None,
            address=client_address(request.scope, auth.trusted_proxies),
        )
        # A password reset, a disabling or new roles that landed while this login ran
        # ended the user's sessions before this one began: it must not outlive them.
        now = await users.get(user.id)
        if (now.password_hash, now.is_active, now.roles) != (
            user.password_hash, user.is_active, user.roles,
        ):  # fmt: skip
            await auth.sessions.revoke(grant.session.id)
            raise _invalid_credentials()
        await auth.audit(
            request, "signin.succeeded", subject_id=user.id, actor_id=user.id,
            details={"session_id": grant.session.id, **details},
        )  # fmt: skip
        response = await token_response(request, user, grant, verified)
        set_device_cookie(response, user.email)
        return response

    @api.post("/refresh", public=True, response=TokenPair)
    async def refresh(request: Request, body: RefreshIn) -> Response:
        """Spend a refresh token (the body's, else the cookie's) for the next pair."""
        token = refresh_token_of(request, body)
        if not token:
            raise ProblemError(401, "No refresh token: sign in again.")
        try:
            grant = await auth.refresh.rotate(token)
        except RefreshTokenReused as error:
            await auth.audit(
                request, "refresh.reused", subject_id=user_id_from(error.session.user_id),
                details={"session_id": error.session.id},
            )  # fmt: skip
            raise ProblemError(401, f"{error} Sign in again.") from None
        except InvalidRefreshToken as error:
            raise ProblemError(401, f"{error} Sign in again.") from None
        users = users_of(request)
        try:
            user = await users.get(int(grant.session.user_id))
        except NotFoundError:
            user = None
        if user is None or not user.is_active:
            await auth.sessions.revoke(grant.session.id)
            raise _invalid_credentials()
        return await token_response(request, user, grant)

    @api.post("/logout", public=True, status_code=204)
    async def logout(request: Request, body: LogoutIn) -> Response:
        """End the session of the access token, or of the refresh token (body or cookie)."""
        user = request.scope.get("user")
        ended: list[tuple[str, str]] = []  # (user id, session id)
        if isinstance(user, AuthenticatedUser):
            if await auth.sessions.revoke(user.session_id):
                ended.append((user.id, user.session_id))
            token = body.refresh_token  # the cookie names the same session
        else:
            token = refresh_token_of(request, body)
        if token:
            # A session that ended already is no error: logging out twice is fine.
            with contextlib.suppress(InvalidRefreshToken):
                session = await auth.refresh.session_of(token)
                if await auth.sessions.revoke(session.id):
                    ended.append((session.user_id, session.id))
        for user_id, session_id in ended:
            await auth.audit(
                request, "session.ended", subject_id=user_id_from(user_id),
                details={"session_id": session_id, "by": "sign-out"},
            )  # fmt: skip
        response = Response(status_code=204)
        response.delete_cookie(
            config.cookie_name, path=config.prefix, secure=settings.refresh_cookie_secure,
            httponly=True, samesite="strict",
        )  # fmt: skip
        return response

    @api.get("/me", response=config.user_read)
    async def me(request: Request) -> Any:
        """The signed-in user."""
        return await current_user(request)

    @api.get("/sessions")
    async def list_sessions(request: Request) -> list[SessionOut]:
        """The signed-in user's sessions, the soonest to expire first."""
        user = signed_in_user(request)
        return [
            SessionOut(
                id=session.id,
                created_at=_time(session.created_at),
                expires_at=_time(session.expires_at),
                last_refreshed_at=_time(session.data.get("rotated_at", session.created_at)),
                user_agent=session.data.get("user_agent"),
                address=session.data.get("address"),
                current=session.id == user.session_id,
            )
            for session in await auth.sessions.list(user.id)
        ]

    @api.delete("/sessions/{id}")
    async def revoke_session(request: Request, path: SessionPath) -> None:
        """End one of the signed-in user's sessions."""
        user = signed_in_user(request)
        session = await auth.sessions.get(path.id)
        if session is None or session.user_id != user.id:
            raise ProblemError(404, "You have no session with this id.")
        if await auth.sessions.revoke(session.id):
            await auth.audit(
                request, "session.ended", subject_id=user_id_from(user.id),
                details={"session_id": session.id, "by": "the list of sessions"},
            )  # fmt: skip

    @api.delete("/sessions")
    async def revoke_all_sessions(request: Request) -> None:
        """End every session of the signed-in user (log out everywhere)."""
        user = signed_in_user(request)
        await auth.sessions.revoke_all(user.id)
        await auth.audit(request, "sessions.ended", subject_id=user_id_from(user.id))

    @api.post("/password")
    async def change_password(request: Request, body: PasswordChange) -> None:
        """Change the password; every other session ends."""
        user = signed_in_user(request)
        row = await current_user(request)
        # Guesses of the current password count as sign-in attempts on the account.
        await auth.limiter.enforce(
            account_key("login", row.email), config.login_limit_per_account, fail_open=False
        )
        await users_of(request).change_password(
            row.id, body.current_password, body.new_password, keep_session=user.session_id
        )
        await auth.audit(request, "password.changed", subject_id=row.id)

    async def send_reset_link(request: Request, email: str) -> None:
        try:
            decision = await auth.limiter.hit(account_key("reset", email), config.reset_limit)
            if decision.allowed:
                await send_reset_email(auth, request.app.state.database, email)
        except MailError as error:
            logger.error("The password-reset email was not sent: %s", error)
        except Exception:
            # The answer went out already; the failure must still be seen.
            logger.exception("The password-reset email was not sent")

    @api.post(
        "/password-reset", public=True, status_code=202,
        rate_limit=config.reset_limit, rate_limit_fail_closed=True, rate_limit_by="address",
    )  # fmt: skip
    async def request_password_reset(request: Request, body: PasswordResetRequest) -> Response:
        """Email a reset link, if the email has an account. The answer is the same
        either way, and the work that tells (finding the account) comes after it."""
        if auth.reset_job is None:
            return Response(
                status_code=202, background=BackgroundTask(send_reset_link, request, body.email)
            )
        decision = await auth.limiter.hit(account_key("reset", body.email), config.reset_limit)
        if decision.allowed:
            await auth.reset_job.defer(email=body.email)
        return Response(status_code=202)

    @api.post("/password-reset/confirm", public=True, status_code=204)
    async def confirm_password_reset(request: Request, body: PasswordResetConfirm) -> None:
        """Set a new password with the token of a reset link; every session ends."""
        invalid = ProblemError(
            400, "This reset link is invalid, used or expired: ask for a new one."
        )
        users = users_of(request)
        claim = await auth.resets.peek(body.token)
        if claim is None:
            raise invalid
        try:
            user = await users.get(claim.user_id)
        except NotFoundError:
            raise invalid from None
        if password_fingerprint(user.password_hash) != claim.fingerprint:
            raise invalid  # the password changed since the link was sent
        users.check_new_password(body.new_password, user.email)
        if await auth.resets.redeem(body.token) is None:
            raise invalid  # redeemed meanwhile by another request
        # Refused (412) if the row changed since it was read: a reset links to one password.
        await users.set_password(user.id, body.new_password, expected_version=user.version)
        await auth.audit(request, "password.reset", subject_id=user.id)

    return api


def _check_same_origin(request: Request, allowed: set[str]) -> None:
    """Refuse a request that uses the refresh cookie from another site (CSRF). Allowed:
    the origin the request was made to, `STACKKIT_PUBLIC_URL`'s, and the CORS origins."""
    origin = request.headers.get("origin")
    if origin is None:
        if request.headers.get("x-requested-with"):
            return
        raise ProblemError(
            403, "A request with the refresh cookie needs an Origin or X-Requested-With header."
        )
    origin = origin.rstrip("/").lower()
    host = request.headers.get("host", "").lower()
    if origin in allowed or (host and origin == f"{request.url.scheme}://{host}"):
        return
    raise ProblemError(403, "The refresh cookie cannot be used from another site.")


def _time(unix: float) -> datetime:
    return datetime.fromtimestamp(unix, UTC)
