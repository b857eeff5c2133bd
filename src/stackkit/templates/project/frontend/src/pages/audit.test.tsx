import { cleanup, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { describeDetails } from "../components/AuditEvents";
import { admin, me, tokens } from "../test/fakeFetch";
import { disposeApp, renderApp } from "../test/renderApp";

afterEach(() => {
  cleanup();
  disposeApp();
  window.history.replaceState(null, "", "/");
});

const chrome = "Mozilla/5.0 (X11; Linux x86_64) Chrome/140.0 Safari/537.36";
const signedIn = {
  id: 12, event: "signin.succeeded", description: "Signed in.", created_at: "2026-12-06T10:00:00Z",
  actor_id: 1, subject_id: 1, address: "127.0.0.1", user_agent: chrome, details: { session_id: "s1" },
};
const failed = {
  ...signedIn, id: 11, event: "signin.failed", description: "A sign-in with a wrong password, or to a disabled account.",
  actor_id: null, address: "203.0.113.9", user_agent: "curl/8.5", details: {},
};

describe("audit log", () => {
  it("shows the user's own recent events on the profile, warnings first to the eye", async () => {
    renderApp("/profile", {
      "POST /api/auth/refresh": [tokens(1)],
      "GET /api/auth/me": [me],
      "GET /api/auth/sessions": [{ body: [] }],
      "GET /api/auth/audit": [{ body: { items: [signedIn, failed], next_cursor: null } }],
    });
    const table = await screen.findByRole("table", { name: "Recent activity" });
    expect(within(table).getByText("Signed in.")).toBeTruthy();
    const warning = within(table).getByText("A sign-in with a wrong password, or to a disabled account.");
    expect(warning.className).toContain("text-red-700");
    expect(within(table).getByText("203.0.113.9")).toBeTruthy();
    expect(within(table).getByText("Chrome on Linux")).toBeTruthy();
    expect(screen.queryByRole("link", { name: "Audit log" })).toBeNull();
  });

  it("lets admins filter the whole log by kind and account, and page through it", async () => {
    const api = renderApp("/admin/audit", {
      "POST /api/auth/refresh": [tokens(1)],
      "GET /api/auth/me": [admin],
      "GET /api/admin/audit": (call) => ({
        body: { items: call.url.includes("cursor=11") ? [failed] : [signedIn], next_cursor: call.url.includes("cursor=") ? null : "11" },
      }),
    });
    expect(await screen.findByRole("link", { name: "Audit log" })).toBeTruthy();
    const table = await screen.findByRole("table", { name: "Audit log" });
    expect(within(table).getByText(/session id s1/)).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Next page" }));
    await waitFor(() => expect(api.calls.some((c) => c.url.includes("cursor=11"))).toBe(true));
    fireEvent.click(screen.getByRole("button", { name: "Warnings" }));
    await waitFor(() =>
      expect(api.calls.some((c) => c.url.includes("event=signin.failed%2Csignin.throttled%2Crefresh.reused") && !c.url.includes("cursor="))).toBe(true),
    );
    fireEvent.change(screen.getByLabelText("Account id"), { target: { value: "7" } });
    await waitFor(() => expect(api.calls.some((c) => c.url.includes("subject_id=7"))).toBe(true));
    fireEvent.change(screen.getByLabelText("Account id"), { target: { value: "seven" } });
    const last = api.calls[api.calls.length - 1]!;
    expect(last.url).not.toContain("subject_id=seven");
  });

  it("tells a user who is not an admin that the log is not theirs to see", async () => {
    renderApp("/admin/audit", { "POST /api/auth/refresh": [tokens(1)], "GET /api/auth/me": [me] });
    expect(await screen.findByText("Only admins can see the audit log.")).toBeTruthy();
  });

  it("describes details on one line", () => {
    expect(describeDetails({ before: [], after: ["editor"], by: "sign-out" })).toBe('before [] · after ["editor"] · by sign-out');
    expect(describeDetails({})).toBe("");
  });
});
