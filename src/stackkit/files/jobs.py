"""The jobs that delete files: those of deleted rows, and those no row took in time."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stackkit.files.service import Files
    from stackkit.jobs import Job, JobQueue

__all__ = ["DELETE_JOB", "SWEEP_JOB", "file_jobs"]

DELETE_JOB = "stackkit.files.delete"
SWEEP_JOB = "stackkit.files.sweep"

logger = logging.getLogger("stackkit.files")


def file_jobs(jobs: JobQueue, files: Files) -> Job[Any]:
    """Declare, once per queue, the job that deletes the stored bytes of files by id
    (returned) and the hourly sweep of files no row took. One queue serves one app's
    files: the jobs are bound to the first `files` given."""
    declared = jobs.jobs.get(DELETE_JOB)
    if declared is not None:
        return declared

    @jobs.job(name=DELETE_JOB, retries=5, backoff=30)
    async def delete_files(file_ids: list[str]) -> None:
        await files.delete_stored(file_ids)

    @jobs.periodic("17 * * * *")
    @jobs.job(name=SWEEP_JOB, retries=3, backoff=60)
    async def sweep_files(timestamp: int) -> None:
        if deleted := await files.sweep():
            logger.info("Deleted %d uploaded files no row took", deleted)

    return delete_files
