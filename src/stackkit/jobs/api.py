"""The admins' view of the job queue: `jobs_controller(jobs, admin_role)` serves it under
`/api/admin/jobs` (`create_app` adds it for an app with a queue and users).

| route | does |
|---|---|
| `GET /api/admin/jobs` | `{items, next_cursor, counts}`, newest first; filters: `status`, `queue` |
| `POST /api/admin/jobs/{id}/retry` | 204: a failed or cancelled job queued again, to run now |
| `POST /api/admin/jobs/{id}/cancel` | 204: a job that has not started cancelled |

Only holders of the admin role get through (403 for other users, 401 without a token).
Retrying a job that has not failed, or cancelling one that has started, is a 409.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request

from stackkit.errors import ProblemError
from stackkit.http.routing import Controller
from stackkit.jobs.queue import JobQueue

__all__ = ["JOBS_PREFIX", "jobs_controller"]

JOBS_PREFIX = "/api/admin/jobs"
MAX_JOB_ID = 2**63 - 1  # procrastinate's ids are bigint
Status = Literal["todo", "doing", "succeeded", "failed", "cancelled", "aborted"]


class JobOut(BaseModel):
    id: int
    name: str = Field(description="The job's name, as declared.")
    queue: str
    status: Status
    attempts: int = Field(description="Its attempts so far (a retry counts as one).")
    arguments: dict[str, Any]
    scheduled_at: datetime | None = Field(description="When it is to run, if not at once.")
    last_error: str | None = Field(description="The error of its last failed run.")


class JobCounts(BaseModel):
    todo: int
    doing: int
    succeeded: int
    failed: int
    cancelled: int
    aborted: int


class JobPage(BaseModel):
    items: list[JobOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the older jobs.")
    counts: JobCounts = Field(description="Jobs of each status in the whole queue.")


class JobListQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: Status | None = Field(None, description="Only the jobs of this status.")
    queue: str | None = Field(None, max_length=128, description="Only the jobs of this queue.")
    limit: int = Field(50, ge=1, le=200, description="Page size.")
    cursor: int | None = Field(
        None, ge=1, le=MAX_JOB_ID, description="next_cursor of the previous page."
    )


class JobPath(BaseModel):
    id: int = Field(ge=1, le=MAX_JOB_ID, description="The job's id.")


def jobs_controller(jobs: JobQueue, admin_role: str) -> Controller:
    """The admins' job routes, for `create_app`."""
    api = Controller(JOBS_PREFIX, tags=["jobs"], cache_ttl=0)  # the queue changes by itself

    @api.get("", name="admin_list_jobs", response=JobPage, roles=[admin_role])
    async def list_jobs(request: Request, query: JobListQuery) -> dict[str, Any]:
        """The jobs of the queue, newest first: waiting, running, done, failed with
        their error."""
        found = await jobs.page(
            status=query.status, queue=query.queue, limit=query.limit + 1, before=query.cursor
        )
        items = found[: query.limit]
        more = len(found) > query.limit
        return {
            "items": [vars(record) for record in items],
            "next_cursor": str(items[-1].id) if more else None,
            "counts": await jobs.counts(),
        }

    @api.post("/{id}/retry", name="admin_retry_job", status_code=204, roles=[admin_role])
    async def retry_job(request: Request, path: JobPath) -> None:
        """Queue a failed or cancelled job again, to run now."""
        try:
            await jobs.retry(path.id)
        except LookupError:
            raise ProblemError(
                409, f"Job {path.id} has not failed: only a failed or cancelled job is retried."
            ) from None

    @api.post("/{id}/cancel", name="admin_cancel_job", status_code=204, roles=[admin_role])
    async def cancel_job(request: Request, path: JobPath) -> None:
        """Cancel a job that has not started."""
        if not await jobs.cancel(path.id):
            raise ProblemError(
                409, f"Job {path.id} is not waiting: only a waiting job is cancelled."
            )

    return api
