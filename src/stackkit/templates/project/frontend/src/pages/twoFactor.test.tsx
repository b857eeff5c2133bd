import { cleanup, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { me, tokens, unauthorized } from "../test/fakeFetch";
import { disposeApp, renderApp } from "../test/renderApp";

afterEach(() => {
  cleanup();
  disposeApp();
  window.history.replaceState(null, "", "/");
});

const challenge = { status: 200, body: { two_factor_required: true, challenge: "challenge-1", expires_in: 300 } };
const resources = { body: [] };

async function signIn() {
  fireEvent.change(await screen.findByLabelText("Email"), { target: { value: "ada@example.com" } });
  fireEvent.change(screen.getByLabelText("Password"), { target: { value: "correct horse" } });
  fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
}

describe("two-factor sign-in", () => {
  it("asks for the code after the password, and signs in with it", async () => {
    const api = renderApp("/login", {
      "POST /api/auth/refresh": [unauthorized],
      "POST /api/auth/login": [challenge],
      "POST /api/auth/login/two-factor": [tokens(1)],
      "GET /api/auth/me": [me],
      "GET /api/meta/resources": [resources],
    });
    await signIn();
    expect(await screen.findByRole("heading", { name: "Two-factor sign-in" })).toBeTruthy();
    fireEvent.change(screen.getByLabelText("Code"), { target: { value: "123456" } });
    fireEvent.click(screen.getByRole("checkbox", { name: "Trust this browser for 30 days" }));
    fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("heading", { name: "Dashboard" })).toBeTruthy();
    const sent = api.calls.find((c) => c.url.endsWith("/api/auth/login/two-factor"))!;
    expect(sent.body).toEqual({ challenge: "challenge-1", code: "123456", trust_device: true });
  });

  it("says a wrong code, and starts again once the challenge is over", async () => {
    renderApp("/login", {
      "POST /api/auth/refresh": [unauthorized],
      "POST /api/auth/login": [challenge],
      "POST /api/auth/login/two-factor": [
        { status: 401, body: { type: "about:blank", title: "Unauthorized", status: 401, detail: "This code is not right, or was used already." } },
        { status: 401, body: { type: "about:blank", title: "Unauthorized", status: 401, detail: "This sign-in expired or failed too often: sign in again." } },
      ],
    });
    await signIn();
    fireEvent.change(await screen.findByLabelText("Code"), { target: { value: "000000" } });
    fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByText("This code is not right, or was used already.")).toBeTruthy();
    fireEvent.change(screen.getByLabelText("Code"), { target: { value: "111111" } });
    fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByText(/sign in again/)).toBeTruthy();
    expect(screen.queryByLabelText("Code")).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: "Start again" }));
    expect(await screen.findByLabelText("Password")).toBeTruthy();
  });

  it("enrols with the password and a first code, then shows the recovery codes once", async () => {
    const codes = Array.from({ length: 10 }, (_, n) => `abcde-fghj${n}`);
    const api = renderApp("/two-factor", {
      "POST /api/auth/refresh": [tokens(1), tokens(2)],
      "GET /api/auth/me": [me, me],
      "GET /api/auth/two-factor": [
        { body: { enabled: false, enabled_at: null, recovery_codes_left: 0, required_for: ["admin"] } },
        { body: { enabled: true, enabled_at: "2026-12-06T10:00:00Z", recovery_codes_left: 10 } },
      ],
      "POST /api/auth/two-factor/setup": [{ body: { secret: "JBSWY3DPEHPK3PXP", uri: "otpauth://totp/app:ada%40example.com?secret=JBSWY3DPEHPK3PXP" } }],
      "POST /api/auth/two-factor/enable": [{ body: { recovery_codes: codes } }],
      "GET /api/auth/two-factor/devices": [{ body: [] }],
    });
    expect(await screen.findByText(/Your role admin needs two-factor sign-in/)).toBeTruthy();
    fireEvent.change(await screen.findByLabelText("Password"), { target: { value: "correct horse" } });
    fireEvent.click(screen.getByRole("button", { name: "Set up" }));
    expect((await screen.findByLabelText("Secret")).textContent).toBe("JBSWY3DPEHPK3PXP");
    expect(screen.getByRole("img", { name: /QR code/ })).toBeTruthy();
    fireEvent.change(screen.getByLabelText("Code from the app"), { target: { value: "123456" } });
    fireEvent.click(screen.getByRole("button", { name: "Turn on" }));
    const list = await screen.findByRole("list", { name: "Recovery codes" });
    expect(within(list).getAllByRole("listitem")).toHaveLength(10);
    expect(await screen.findByText(/10 recovery\s+codes left/)).toBeTruthy();
    expect(api.calls.find((c) => c.url.endsWith("/enable"))!.body).toEqual({ code: "123456" });
    await waitFor(() => expect(api.count("POST /api/auth/refresh")).toBe(2)); // tokens with the role
    fireEvent.click(screen.getByRole("button", { name: "I have kept them" }));
    expect(screen.queryByRole("list", { name: "Recovery codes" })).toBeNull();
  });

  it("turns it off with the password and a code, and forgets trusted browsers", async () => {
    const api = renderApp("/two-factor", {
      "POST /api/auth/refresh": [tokens(1)],
      "GET /api/auth/me": [me],
      "GET /api/auth/two-factor": [
        { body: { enabled: true, enabled_at: "2026-12-06T10:00:00Z", recovery_codes_left: 9 } },
        { body: { enabled: false, enabled_at: null, recovery_codes_left: 0 } },
      ],
      "GET /api/auth/two-factor/devices": [
        { body: [{ id: "1~d", created_at: "2026-12-06T10:00:00Z", expires_at: "2027-01-05T10:00:00Z", user_agent: "curl/8.5", address: "127.0.0.1" }] },
        { body: [] },
      ],
      "DELETE /api/auth/two-factor/devices/1~d": [{ status: 204 }],
      "POST /api/auth/two-factor/disable": [{ status: 204 }],
    });
    const devices = await screen.findByRole("list", { name: "Trusted browsers" });
    fireEvent.click(within(devices).getByRole("button", { name: /^Forget/ }));
    expect(await screen.findByText("None.")).toBeTruthy();
    const off = screen.getByRole("region", { name: "Turn two-factor sign-in off" });
    fireEvent.change(within(off).getByLabelText("Password"), { target: { value: "correct horse" } });
    fireEvent.change(within(off).getByLabelText("Code, or a recovery code"), { target: { value: "654321" } });
    fireEvent.click(within(off).getByRole("button", { name: "Turn off" }));
    expect(await screen.findByRole("button", { name: "Set up" })).toBeTruthy();
    expect(api.calls.find((c) => c.url.endsWith("/disable"))!.body).toEqual({ password: "correct horse", code: "654321" });
  });
});
