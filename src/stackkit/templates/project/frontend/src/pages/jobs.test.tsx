import { cleanup, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { admin, me, tokens } from "../test/fakeFetch";
import { disposeApp, renderApp } from "../test/renderApp";
import { describeArguments } from "./AdminJobs";

afterEach(() => {
  cleanup();
  disposeApp();
  window.history.replaceState(null, "", "/");
});

const counts = { todo: 1, doing: 0, succeeded: 3, failed: 1, cancelled: 0, aborted: 0 };
const failed = {
  id: 7, name: "app.jobs.send_report.send_report", queue: "default", status: "failed", attempts: 4,
  arguments: { user_id: 4 }, scheduled_at: null, last_error: "ValueError: no such report",
};
const waiting = { ...failed, id: 8, status: "todo", attempts: 0, last_error: null, scheduled_at: "2026-12-06T12:00:00Z" };
const withJobs = () => ({ body: { admin_role: "admin", jobs: true } });

describe("jobs", () => {
  it("is in the menu for admins of an app with a queue only", async () => {
    renderApp("/", { "POST /api/auth/refresh": [tokens(1)], "GET /api/auth/me": [admin], "GET /api/meta": [{ body: { admin_role: "admin" } }], "GET /api/meta/resources": [{ body: [] }] });
    expect(await screen.findByRole("link", { name: "Users" })).toBeTruthy();
    expect(screen.queryByRole("link", { name: "Jobs" })).toBeNull();
    cleanup();
    disposeApp();
    renderApp("/", { "POST /api/auth/refresh": [tokens(1)], "GET /api/auth/me": [me], "GET /api/meta": withJobs, "GET /api/meta/resources": [{ body: [] }] });
    expect(await screen.findByRole("link", { name: "Profile" })).toBeTruthy();
    expect(screen.queryByRole("link", { name: "Jobs" })).toBeNull();
  });

  it("shows the failed job's error, retries it and cancels a waiting one", async () => {
    const api = renderApp("/admin/jobs", {
      "POST /api/auth/refresh": [tokens(1)],
      "GET /api/auth/me": [admin],
      "GET /api/meta": withJobs,
      "GET /api/admin/jobs": () => ({ body: { items: [waiting, failed], next_cursor: null, counts } }),
      "POST /api/admin/jobs/7/retry": [{ status: 204 }],
      "POST /api/admin/jobs/8/cancel": [{ status: 204 }],
    });
    expect(await screen.findByRole("link", { name: "Jobs" })).toBeTruthy();
    const table = await screen.findByRole("table", { name: "Jobs" });
    expect(within(table).getByText("ValueError: no such report")).toBeTruthy();
    expect(screen.getByRole("button", { name: "Failed (1)" })).toBeTruthy();
    fireEvent.click(within(table).getByRole("button", { name: "Retry job 7" }));
    expect(await screen.findByText("Job 7 is queued again.")).toBeTruthy();
    fireEvent.click(within(table).getByRole("button", { name: "Cancel job 8" }));
    expect(await screen.findByText("Job 8 is cancelled.")).toBeTruthy();
    expect(api.count("POST /api/admin/jobs/7/retry")).toBe(1);
    expect(within(table).queryByRole("button", { name: "Retry job 8" })).toBeNull();
  });

  it("filters by status and says why an action was refused", async () => {
    const api = renderApp("/admin/jobs", {
      "POST /api/auth/refresh": [tokens(1)],
      "GET /api/auth/me": [admin],
      "GET /api/meta": withJobs,
      "GET /api/admin/jobs": () => ({ body: { items: [failed], next_cursor: null, counts } }),
      "POST /api/admin/jobs/7/retry": [{ status: 409, body: { status: 409, detail: "Job 7 has not failed: only a failed or cancelled job is retried." } }],
    });
    fireEvent.click(await screen.findByRole("button", { name: "Failed (1)" }));
    await waitFor(() => expect(api.calls.some((c) => c.url.includes("status=failed"))).toBe(true));
    fireEvent.click(await screen.findByRole("button", { name: "Retry job 7" }));
    expect(await screen.findByText("Job 7 has not failed: only a failed or cancelled job is retried.")).toBeTruthy();
  });

  it("describes arguments on one line", () => {
    expect(describeArguments({ user_id: 4, kind: "weekly" })).toBe('user_id=4, kind="weekly"');
    expect(describeArguments({})).toBe("no arguments");
  });
});
