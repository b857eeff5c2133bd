"""The admins' Jobs page in Chromium: a reset email asked for becomes a job of the app's
own worker (SQLite), which the page lists, filters and counts; the page passes axe."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from e2e.flows import ApiClient, log_in, signed_in_as
from e2e.screenshots import Screenshots
from e2e.server import Account
from e2e.test_accessibility import check
from stackkit.testing import wait_until

RESET_JOB = "stackkit.auth.send_password_reset"


def test_an_admin_sees_the_reset_email_job_done(
    page: Page, admin: Account, api: ApiClient, screenshot: Screenshots
) -> None:
    api.call("POST", "/api/auth/password-reset", {"email": admin.email})
    api.log_in(admin)

    def reset_job_done() -> bool:
        page_of_jobs = api.call("GET", "/api/admin/jobs?status=succeeded")
        return any(job["name"] == RESET_JOB for job in page_of_jobs["items"])

    # The app's own worker (SQLite) runs it at once.
    wait_until(reset_job_done, timeout=20, description="the reset email's job to run")
    page.goto("/login")
    log_in(page, admin)
    signed_in_as(page, admin)
    page.get_by_role("link", name="Jobs").click()
    expect(page.get_by_role("heading", name="Jobs", level=1)).to_be_visible()
    page.get_by_role("button", name=re.compile(r"^Done \([1-9][0-9]*\)$")).click()
    table = page.get_by_role("table", name="Jobs")
    expect(table.get_by_text(RESET_JOB).first).to_be_visible()
    expect(table.get_by_role("cell", name="Done").first).to_be_visible()
    expect(table.get_by_role("button", name=re.compile(r"^(Retry|Cancel) job"))).to_have_count(0)
    check(page, table)
    screenshot(page, "jobs")
