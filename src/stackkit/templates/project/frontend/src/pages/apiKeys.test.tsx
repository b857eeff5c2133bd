import { cleanup, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { admin, me, tokens } from "../test/fakeFetch";
import { disposeApp, renderApp } from "../test/renderApp";

afterEach(() => {
  cleanup();
  disposeApp();
  window.history.replaceState(null, "", "/");
});

const deploy = {
  id: "0123456789abcdef", name: "deploy script", prefix: "sk_0123456789abcdef_", roles: [],
  created_at: "2026-12-01T10:00:00Z", expires_at: null, last_used_at: "2026-12-06T10:00:00Z",
};
const made = {
  ...deploy, id: "fedcba9876543210", name: "reports", prefix: "sk_fedcba9876543210_", roles: ["admin"],
  expires_at: "2027-03-01T10:00:00Z", last_used_at: null, key: "sk_fedcba9876543210_" + "s".repeat(43),
};

describe("API keys", () => {
  it("makes a key with the roles chosen, shows its text once, and lists it without it", async () => {
    const api = renderApp("/api-keys", {
      "POST /api/auth/refresh": [tokens(1)],
      "GET /api/auth/me": [admin],
      "GET /api/meta": [{ body: { admin_role: "admin", api_keys: true } }],
      "GET /api/auth/api-keys": [{ body: [deploy] }, { body: [made, deploy] }],
      "POST /api/auth/api-keys": [{ status: 201, body: made }],
    });
    expect(await screen.findByRole("link", { name: "API keys" })).toBeTruthy();
    const list = await screen.findByRole("list", { name: "API keys" });
    expect(within(list).getByText("deploy script")).toBeTruthy();
    expect(within(list).getByText(/never expires/)).toBeTruthy();

    fireEvent.change(screen.getByLabelText("Name"), { target: { value: "reports" } });
    fireEvent.change(screen.getByLabelText("Expires"), { target: { value: "90" } });
    fireEvent.click(screen.getByRole("checkbox", { name: "admin" }));
    fireEvent.click(screen.getByRole("button", { name: "Make key" }));

    const shown = await screen.findByLabelText("The new key");
    expect((shown as HTMLInputElement).value).toBe(made.key);
    const sent = api.calls.find((c) => c.method === "POST" && c.url.endsWith("/api/auth/api-keys"))!;
    expect(sent.body).toEqual({ name: "reports", roles: ["admin"], expires_in_days: 90 });
    await waitFor(() => expect(within(screen.getByRole("list", { name: "API keys" })).getByText("reports")).toBeTruthy());
    expect(screen.getByRole("list", { name: "API keys" }).textContent).not.toContain(made.key);

    fireEvent.click(screen.getByRole("button", { name: "Done" }));
    expect(screen.queryByLabelText("The new key")).toBeNull();
  });

  it("revokes a key after asking, and says it no longer works", async () => {
    const api = renderApp("/api-keys", {
      "POST /api/auth/refresh": [tokens(1)],
      "GET /api/auth/me": [me],
      "GET /api/auth/api-keys": [{ body: [deploy] }, { body: [] }],
      "DELETE /api/auth/api-keys/0123456789abcdef": [{ status: 204 }],
    });
    fireEvent.click(await screen.findByRole("button", { name: "Revoke deploy script" }));
    const dialog = await screen.findByRole("dialog");
    fireEvent.click(within(dialog).getByRole("button", { name: "Revoke key" }));
    expect(await screen.findByText("Key “deploy script” revoked: it no longer works.")).toBeTruthy();
    expect(await screen.findByText("No keys yet.")).toBeTruthy();
    expect(api.count("DELETE /api/auth/api-keys/0123456789abcdef")).toBe(1);
    expect(screen.queryByRole("checkbox")).toBeNull(); // a user without roles gives a key none
  });

  it("shows the server's refusal of a name", async () => {
    renderApp("/api-keys", {
      "POST /api/auth/refresh": [tokens(1)],
      "GET /api/auth/me": [me],
      "GET /api/auth/api-keys": [{ body: [] }],
      "POST /api/auth/api-keys": [
        { status: 409, body: { type: "about:blank", title: "Conflict", status: 409, detail: "You have 25 API keys already: revoke one first." } },
      ],
    });
    fireEvent.change(await screen.findByLabelText("Name"), { target: { value: "one more" } });
    fireEvent.click(screen.getByRole("button", { name: "Make key" }));
    expect(await screen.findByText("You have 25 API keys already: revoke one first.")).toBeTruthy();
  });
});
