"""The emails about an account (other than the reset link): a link to verify the
address, the note to an address someone tried to register again, the link that
confirms a new address, and the note to the old one once it changed.

They are sent after the answer: through the app's job queue when it has one (retried
if the mail server fails), else in a task of the process that answered.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any, Literal

from starlette.background import BackgroundTask

from stackkit.auth.config import Auth
from stackkit.auth.mail import MailError, MailMessage
from stackkit.auth.verification import EmailVerifications
from stackkit.db.database import Database
from stackkit.errors import NotFoundError
from stackkit.jobs import Job, JobQueue

__all__ = [
    "ACCOUNT_EMAIL_JOB",
    "AccountEmail",
    "account_email_job",
    "mail_after_answer",
    "send_account_email",
]

logger = logging.getLogger("stackkit.auth")

ACCOUNT_EMAIL_JOB = "stackkit.auth.send_account_email"

AccountEmail = Literal["verify", "registered-again", "change-email", "email-changed"]


async def send_account_email(
    auth: Auth,
    database: Database,
    kind: str,
    *,
    user_id: int | None = None,
    email: str | None = None,
) -> None:
    """Mail the email `kind` (an `AccountEmail`) about the user `user_id`, or about the
    account of `email` if it has one (looked up here, after the answer: the answer
    cannot tell), if the account is active (and, for a verification link, not
    verified yet). For `change-email` and `email-changed`, `email` is where it goes
    (the new address, the old one) and `user_id` whose account it is about.

    Raises:
        MailError: the mail server did not take the message.
        ValueError: an unknown `kind`.
    """
    users = auth.users(database)
    user: Any = None
    if user_id is not None:
        with contextlib.suppress(NotFoundError):
            user = await users.get(user_id)
    elif email is not None and kind in ("verify", "registered-again"):
        user = await users.get_by_email(email)
    if user is None or not user.is_active:
        return
    site = auth.settings.public_url.rstrip("/")
    if kind == "verify":
        if await EmailVerifications(database).verified_at(user.id, user.email) is not None:
            return
        token = await auth.verifications.issue({"user_id": user.id, "email": user.email})
        hours = max(1, int(auth.config.email_verification_ttl // 3600))
        message = MailMessage(
            to=user.email,
            subject="Verify your email address",
            text=f"To confirm that this address is yours, open this link within {hours} "
            f"hours:\n\n{site}/verify-email#token={token}\n\nIf you did not create an "
            "account, ignore this email.\n",
        )
    elif kind == "registered-again":
        message = MailMessage(
            to=user.email,
            subject="Someone tried to create an account with your address",
            text="Someone tried to create an account with this email address, which has "
            f"one already.\n\nIf it was you, sign in at {site}/login, or choose a new "
            f"password at {site}/forgot-password.\n\nIf it was not you, nothing changed: "
            "you can ignore this email.\n",
        )
    elif kind == "change-email" and email is not None:
        claim = {"user_id": user.id, "old": user.email, "new": email}
        token = await auth.email_changes.issue(claim)
        hours = max(1, int(auth.config.email_verification_ttl // 3600))
        message = MailMessage(
            to=email,
            subject="Confirm your new email address",
            text=f"To make this the address of your account ({user.email} until now), open "
            f"this link within {hours} hours:\n\n{site}/confirm-email#token={token}\n\n"
            "If you did not ask for it, ignore this email: nothing changes.\n",
        )
    elif kind == "email-changed" and email is not None:
        message = MailMessage(
            to=email,
            subject="Your email address was changed",
            text=f"The email address of your account at {site} is now {user.email}; this "
            f"one ({email}) no longer signs in.\n\nIf you did not make this change, tell "
            "the people who run the site at once: someone else may hold your account.\n",
        )
    else:
        raise ValueError(f"unknown account email {kind!r}, or one without its address")
    await auth.mail.send(message)


def account_email_job(jobs: JobQueue) -> Job[Any]:
    """The queue's job that sends account emails, declared once per queue; a failed send
    is tried again 5 times, 4 s to 17 min apart (a verification link is issued anew
    by each try)."""
    declared = jobs.jobs.get(ACCOUNT_EMAIL_JOB)
    if declared is not None:
        return declared

    @jobs.job(name=ACCOUNT_EMAIL_JOB, queue="mail", retries=5, backoff=4, timeout=60)
    async def send_account_email_job(
        kind: str, user_id: int | None = None, email: str | None = None
    ) -> None:
        await send_account_email(
            jobs.state.auth, jobs.state.database, kind, user_id=user_id, email=email
        )

    return send_account_email_job


async def mail_after_answer(
    auth: Auth,
    database: Database,
    kind: AccountEmail,
    *,
    user_id: int | None = None,
    email: str | None = None,
) -> BackgroundTask | None:
    """Send the email `kind` to the user `user_id` (or the account of `email`) once the
    answer is out: deferred to the queue's job (None returned), else a task to attach
    to the response."""
    if auth.account_email_job is not None:
        await auth.account_email_job.defer(kind=kind, user_id=user_id, email=email)
        return None
    return BackgroundTask(_send_logged, auth, database, kind, user_id, email)


async def _send_logged(
    auth: Auth, database: Database, kind: str, user_id: int | None, email: str | None
) -> None:
    try:
        await send_account_email(auth, database, kind, user_id=user_id, email=email)
    except MailError as error:
        logger.error("The %s email was not sent: %s", kind, error)
    except Exception:
        # The answer went out already; the failure must still be seen.
        logger.exception("The %s email was not sent", kind)
