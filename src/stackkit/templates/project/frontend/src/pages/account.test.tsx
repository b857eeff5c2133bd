import { cleanup, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { admin, me, tokens, unauthorized } from "../test/fakeFetch";
import { disposeApp, renderApp } from "../test/renderApp";
import { describeAgent } from "../components/devices";
import { tokenFromHash } from "./ResetPassword";

afterEach(() => {
  cleanup();
  disposeApp();
  window.history.replaceState(null, "", "/");
});

const sessions = [
  { id: "s1", created_at: "2026-11-20T10:00:00Z", expires_at: "2026-12-20T10:00:00Z", last_refreshed_at: "2026-11-25T09:00:00Z", user_agent: "Mozilla/5.0 (X11; Linux x86_64) Chrome/140.0 Safari/537.36", address: "127.0.0.1", current: true },
  { id: "s2", created_at: "2026-11-21T10:00:00Z", expires_at: "2026-12-21T10:00:00Z", last_refreshed_at: "2026-11-24T09:00:00Z", user_agent: "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Safari/604.1", address: "10.0.0.2", current: false },
];

describe("profile", () => {
  it("lists sessions and revokes another one, never this one", async () => {
    const api = renderApp("/profile", {
      "POST /api/auth/refresh": [tokens(1)],
      "GET /api/auth/me": [me],
      "GET /api/auth/sessions": [{ body: sessions }, { body: sessions.slice(0, 1) }],
      "DELETE /api/auth/sessions/s2": [{ status: 204 }],
    });
    const list = await screen.findByRole("list", { name: "Sessions" });
    expect(within(list).getAllByRole("listitem")).toHaveLength(2);
    expect(within(list).getByText("This device")).toBeTruthy();
    const revoke = within(list).getAllByRole("button", { name: /^Revoke/ });
    expect(revoke).toHaveLength(1);
    fireEvent.click(revoke[0]!);
    expect(await screen.findByText("Signed out Safari on iOS.")).toBeTruthy();
    expect(api.count("DELETE /api/auth/sessions/s2")).toBe(1);
    await waitFor(() => expect(screen.getAllByRole("listitem")).toHaveLength(1));
  });

  it("logs out everywhere after a confirmation", async () => {
    const api = renderApp("/profile", {
      "POST /api/auth/refresh": [tokens(1)],
      "GET /api/auth/me": [me],
      "GET /api/auth/sessions": [{ body: sessions }],
      "DELETE /api/auth/sessions": [{ status: 204 }],
      "POST /api/auth/logout": [{ status: 204 }],
    });
    fireEvent.click(await screen.findByRole("button", { name: "Log out everywhere" }));
    fireEvent.click(within(screen.getByRole("dialog")).getByRole("button", { name: "Log out everywhere" }));
    expect(await screen.findByRole("heading", { name: "Sign in" })).toBeTruthy();
    expect(api.count("DELETE /api/auth/sessions")).toBe(1);
  });

  it("shows a wrong current password on its field", async () => {
    renderApp("/profile", {
      "POST /api/auth/refresh": [tokens(1)],
      "GET /api/auth/me": [me],
      "GET /api/auth/sessions": [{ body: sessions }],
      "POST /api/auth/password": [
        { status: 422, body: { status: 422, detail: "invalid", errors: [{ in: "body", field: "current_password", message: "This is not your current password." }] } },
      ],
    });
    fireEvent.change(await screen.findByLabelText("Current password"), { target: { value: "wrong one" } });
    fireEvent.change(screen.getByLabelText("New password"), { target: { value: "a new passphrase" } });
    fireEvent.click(screen.getByRole("button", { name: "Change password" }));
    await screen.findByText("This is not your current password.");
    expect(screen.getByLabelText("Current password").getAttribute("aria-invalid")).toBe("true");
  });

  it("names browsers and systems", () => {
    expect(describeAgent(sessions[0]!.user_agent)).toBe("Chrome on Linux");
    expect(describeAgent(null)).toBe("Unknown device");
    expect(describeAgent("curl/8.5")).toBe("curl/8.5");
  });
});

describe("password reset", () => {
  it("asks for a link and says the same thing whatever the email", async () => {
    const api = renderApp("/login", { "POST /api/auth/refresh": [unauthorized], "POST /api/auth/password-reset": [{ status: 202 }] });
    fireEvent.click(await screen.findByRole("link", { name: "Forgot your password?" }));
    await screen.findByRole("heading", { name: "Reset your password" });
    fireEvent.change(await screen.findByLabelText("Email"), { target: { value: "ada@example.com" } });
    fireEvent.click(screen.getByRole("button", { name: "Send reset link" }));
    expect((await screen.findByRole("status")).textContent).toContain("If an account uses ada@example.com");
    expect(api.calls.find((c) => c.url === "/api/auth/password-reset")?.body).toEqual({ email: "ada@example.com" });
  });

  it("sets the new password with the token of the link, then clears it from the address", async () => {
    window.history.replaceState(null, "", "/reset-password#token=abc.def");
    const api = renderApp("/reset-password", {
      "POST /api/auth/refresh": [unauthorized],
      "POST /api/auth/password-reset/confirm": [{ status: 204 }],
    });
    fireEvent.change(await screen.findByLabelText("New password"), { target: { value: "a new passphrase" } });
    expect(window.location.hash).toBe("");
    fireEvent.click(screen.getByRole("button", { name: "Set new password" }));
    expect((await screen.findByRole("status")).textContent).toContain("Your password is changed");
    expect(api.calls.find((c) => c.url === "/api/auth/password-reset/confirm")?.body).toEqual({
      token: "abc.def",
      new_password: "a new passphrase",
    });
  });

  it("reads the token from the fragment only", () => {
    expect(tokenFromHash("#token=x.y")).toBe("x.y");
    expect(tokenFromHash("")).toBe("");
  });
});

describe("user management", () => {
  const users = {
    items: [
      { id: 1, email: "ada@example.com", roles: ["admin"], is_active: true, created_at: "2026-11-01T00:00:00Z" },
      { id: 2, email: "bob@example.com", roles: [], is_active: true, created_at: "2026-11-02T00:00:00Z" },
    ],
    next_cursor: null,
  };

  it("is in the menu for admins only", async () => {
    renderApp("/", { "POST /api/auth/refresh": [tokens(1)], "GET /api/auth/me": [me], "GET /api/meta/resources": [{ body: [] }] });
    expect(await screen.findByRole("link", { name: "Profile" })).toBeTruthy();
    expect(screen.queryByRole("link", { name: "Users" })).toBeNull();
  });

  it("lets an admin promote and disable others, not themselves", async () => {
    const api = renderApp("/admin/users", {
      "POST /api/auth/refresh": [tokens(1)],
      "GET /api/auth/me": [admin],
      "GET /api/auth/users": () => ({ body: users }),
      "PATCH /api/auth/users/2": [{ body: { ...users.items[1], roles: ["admin"] } }],
    });
    expect(await screen.findByRole("link", { name: "Users" })).toBeTruthy();
    expect(await screen.findByText("bob@example.com")).toBeTruthy();
    expect(screen.queryByRole("button", { name: /ada@example.com/ })).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Make admin: bob@example.com" }));
    expect(await screen.findByText("bob@example.com is now an admin.")).toBeTruthy();
    expect(api.calls.find((c) => c.method === "PATCH")?.body).toEqual({ roles: ["admin"] });
  });

  it("follows the admin role the API names at /api/meta", async () => {
    const boss = { status: 200, body: { id: 1, email: "ada@example.com", roles: ["boss"] } };
    const api = renderApp("/admin/users", {
      "POST /api/auth/refresh": [tokens(1)],
      "GET /api/auth/me": [boss],
      "GET /api/meta": [{ body: { admin_role: "boss" } }],
      "GET /api/auth/users": () => ({ body: users }),
      "PATCH /api/auth/users/2": [{ body: { ...users.items[1], roles: ["boss"] } }],
    });
    expect(await screen.findByRole("link", { name: "Users" })).toBeTruthy();
    fireEvent.click(await screen.findByRole("button", { name: "Make admin: bob@example.com" }));
    expect(await screen.findByText("bob@example.com is now an admin.")).toBeTruthy();
    expect(api.calls.find((c) => c.method === "PATCH")?.body).toEqual({ roles: ["boss"] });
  });
});
