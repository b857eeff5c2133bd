"""Durable background jobs, on procrastinate: declare a job, defer it (in the database
transaction of the write that causes it, if you like), run workers.

    jobs = JobQueue(settings.database_url)

    @jobs.job(retries=5, timeout=30)
    async def send_welcome(user_id: int) -> None: ...

    async with db.session() as session:
        session.add(user)
        await send_welcome.defer_in(session, user_id=user.id)  # only if the unit commits

See docs/jobs.md for why procrastinate, and for what the embedded default keeps.
"""

from __future__ import annotations

from stackkit.jobs.queue import STATUSES, Job, JobQueue, JobRecord, JobState, QueueUnavailable

__all__ = ["STATUSES", "Job", "JobQueue", "JobRecord", "JobState", "QueueUnavailable"]
