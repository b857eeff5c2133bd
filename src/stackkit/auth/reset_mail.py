"""The password-reset email, sent after the 202: through the app's job queue when it has
one (retried if the mail server fails, and not lost if the process stops), else in a
task of the process that answered."""

from __future__ import annotations

from typing import Any

from stackkit.auth.config import Auth
from stackkit.auth.mail import MailMessage
from stackkit.db.database import Database
from stackkit.jobs import Job, JobQueue

__all__ = ["RESET_EMAIL_JOB", "reset_email_job", "send_reset_email"]

RESET_EMAIL_JOB = "stackkit.auth.send_password_reset"


async def send_reset_email(auth: Auth, database: Database, email: str) -> None:
    """Mail a reset link to the account of `email`, if it has an active one.

    Raises:
        MailError: the mail server did not take the message.
    """
    user = await auth.users(database).get_by_email(email)
    if user is None or not user.is_active:
        return
    token = await auth.resets.issue(user.id, user.password_hash)
    link = f"{auth.settings.public_url.rstrip('/')}/reset-password#token={token}"
    minutes = int(auth.config.password_reset_ttl // 60)
    await auth.mail.send(
        MailMessage(
            to=user.email,
            subject="Reset your password",
            text=f"To choose a new password, open this link within {minutes} "
            f"minutes:\n\n{link}\n\nIf you did not ask for it, ignore this email: "
            "your password stays as it is.\n",
        )
    )


def reset_email_job(jobs: JobQueue) -> Job[Any]:
    """The queue's job that sends reset emails, declared once per queue. It runs with
    the parts of the app the queue was last given to (`jobs.state`); a failed send is
    tried again 5 times, 4 s to 17 min apart (each try issues a link of its own)."""
    declared = jobs.jobs.get(RESET_EMAIL_JOB)
    if declared is not None:
        return declared

    @jobs.job(name=RESET_EMAIL_JOB, queue="mail", retries=5, backoff=4, timeout=60)
    async def send_password_reset(email: str) -> None:
        await send_reset_email(jobs.state.auth, jobs.state.database, email)

    return send_password_reset
