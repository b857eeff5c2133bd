"""Email addresses, verified and changed: `email_controller(auth)` serves these under
`/api/auth`.

| route | does |
|---|---|
| `GET /email` | `{email, verification, verified_at}`: the signed-in user's address |
| `POST /email` `{new_email, password}` | 202: a link to confirm goes to the new address |
| `POST /email/confirm` `{token}` | 204: changed; the old address is told, other sessions end |
| `POST /verify-email` `{token}` | 204: the address the link was sent to is verified |
| `POST /verify-email/resend` `{email?}` | 202: a new link, to the user or to `email` |

A link is `<STACKKIT_PUBLIC_URL>/verify-email#token=...`: 256 random bits, kept in
the session store as a digest, spent by its first use, dead after
`AuthConfig.email_verification_ttl` (a day) or as soon as the account's address is
no longer the one it was sent to. Resending answers 202 whatever the email, and
finds the account after the answer; it is limited per address and per account
(`AuthConfig.verification_limit`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from stackkit.auth.account_mail import mail_after_answer
from stackkit.auth.api import account_key, current_user, signed_in_user, users_of
from stackkit.auth.config import Auth
from stackkit.auth.middleware import AuthenticatedUser
from stackkit.auth.schemas import (
    EmailChangeIn,
    EmailOut,
    EmailVerificationIn,
    VerificationResendIn,
)
from stackkit.auth.verification import EmailVerifications
from stackkit.errors import (
    ConflictError,
    NotFoundError,
    PreconditionFailedError,
    ProblemError,
    ValidationProblem,
)
from stackkit.http.routing import Controller

__all__ = ["email_controller"]


def email_controller(auth: Auth) -> Controller:
    """The routes about the user's email address, for `create_app`."""
    config = auth.config
    api = Controller(config.prefix, tags=["auth"], cache_ttl=0)

    @api.post("/verify-email", public=True, status_code=204)
    async def verify_email(request: Request, body: EmailVerificationIn) -> None:
        """Verify the address with the token of the link mailed to it. Sign in again (or
        refresh) for a token that says so."""
        invalid = ProblemError(
            400, "This verification link is invalid, used or expired: ask for a new one."
        )
        claim = await auth.verifications.redeem(body.token)
        if claim is None:
            raise invalid
        try:
            user = await users_of(request).get(int(claim["user_id"]))
        except NotFoundError:
            raise invalid from None
        if user.email != claim["email"]:
            raise invalid  # the account's address changed since the link was sent
        await EmailVerifications(request.app.state.database).mark(user.id, user.email)
        await auth.audit(request, "email.verified", subject_id=user.id, actor_id=user.id)

    @api.post("/email", status_code=202, rate_limit=config.verification_limit)
    async def change_email(request: Request, body: EmailChangeIn) -> Response:
        """Ask to change the address: a link to confirm it goes to the new address, and
        nothing changes until it is opened. The password is checked (its guesses count
        as sign-ins)."""
        user = signed_in_user(request)
        row = await current_user(request)
        await auth.limiter.enforce(
            account_key("login", row.email), config.login_limit_per_account, fail_open=False
        )
        if not (await config.hasher.verify(row.password_hash, body.password)).ok:
            raise ValidationProblem.for_field("password", "This is not your current password.")
        if body.new_email == row.email:
            raise ValidationProblem.for_field("new_email", "This is your address already.")
        task = await mail_after_answer(
            auth, request.app.state.database, "change-email", user_id=int(user.id),
            email=body.new_email,
        )  # fmt: skip
        return Response(status_code=202, background=task)

    @api.post("/email/confirm", public=True, status_code=204)
    async def confirm_email_change(request: Request, body: EmailVerificationIn) -> Response:
        """Make the new address the account's, with the token of the link mailed to it.
        The old address is told; every session but the one confirming (if signed in as
        that user) ends."""
        invalid = ProblemError(
            400, "This link is invalid, used or expired: ask for the change again."
        )
        claim = await auth.email_changes.peek(body.token)
        if claim is None:
            raise invalid
        users = users_of(request)
        try:
            row = await users.get(int(claim["user_id"]))
        except NotFoundError:
            raise invalid from None
        if row.email != claim["old"] or not row.is_active:
            raise invalid  # the address changed another way since the link was sent
        taken = ProblemError(409, "This address belongs to another account now.")
        if await users.get_by_email(claim["new"]) is not None:
            raise taken  # the link stays: a mistake of the other account's can be undone
        if await auth.email_changes.redeem(body.token) is None:
            raise invalid  # redeemed meanwhile by another request
        try:
            await users.update(row.id, {"email": claim["new"]}, expected_version=row.version)
        except ConflictError:
            raise taken from None
        except PreconditionFailedError:
            raise invalid from None
        database = request.app.state.database
        if auth.settings.verifies_email:
            await EmailVerifications(database).mark(row.id, claim["new"])  # the link proved it
        caller = request.scope.get("user")
        keep = (
            caller.session_id
            if isinstance(caller, AuthenticatedUser) and caller.id == str(row.id)
            else None
        )
        await users.end_sessions(row.id, keep=keep)
        await auth.audit(
            request, "email.changed", subject_id=row.id,
            details={"old": claim["old"], "new": claim["new"]},
        )  # fmt: skip
        task = await mail_after_answer(
            auth, database, "email-changed", user_id=row.id, email=claim["old"]
        )
        return Response(status_code=204, background=task)

    @api.get("/email", response=EmailOut)
    async def email_status(request: Request) -> EmailOut:
        """The signed-in user's address, and whether it is verified."""
        row = await current_user(request)
        database = request.app.state.database
        verified_at = None
        if auth.settings.verifies_email:
            verified_at = await EmailVerifications(database).verified_at(row.id, row.email)
        return EmailOut(
            email=row.email,
            verification=auth.settings.verifies_email,
            verified_at=verified_at,
        )

    @api.post(
        "/verify-email/resend", public=True, status_code=202,
        rate_limit=config.verification_limit, rate_limit_fail_closed=True,
        rate_limit_by="address",
    )  # fmt: skip
    async def resend_verification(request: Request, body: VerificationResendIn) -> Response:
        """Mail a new link to verify the address: the signed-in user's, or the account of
        `email`'s, if it has one and is not verified yet. The answer is the same either
        way."""
        user = request.scope.get("user")
        database = request.app.state.database
        if isinstance(user, AuthenticatedUser) and body.email is None:
            row = await users_of(request).get(int(user.id))
            email, user_id = row.email, row.id
        elif body.email is not None:
            email, user_id = body.email, None
        else:
            raise ValidationProblem.for_field("email", "Give the account's email, or sign in.")
        decision = await auth.limiter.hit(account_key("verify", email), config.verification_limit)
        if not decision.allowed or not auth.settings.verifies_email:
            return Response(status_code=202)
        if user_id is not None:
            task = await mail_after_answer(auth, database, "verify", user_id=user_id)
        else:
            task = await mail_after_answer(auth, database, "verify", email=email)
        return Response(status_code=202, background=task)

    return api
