import { cleanup, fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { tokens, unauthorized } from "../test/fakeFetch";
import { disposeApp, renderApp } from "../test/renderApp";

afterEach(() => {
  cleanup();
  disposeApp();
  window.history.replaceState(null, "", "/");
});

const unverified = { status: 403, body: { status: 403, detail: "Verify your email address before signing in.", code: "email_not_verified" } };
const withVerification = () => ({ body: { admin_role: "admin", email_verification: true } });
const ada = { status: 200, body: { id: 1, email: "ada@example.com", roles: [] } };
const unverifiedAddress = { body: { email: "ada@example.com", verification: true, verified_at: null } };

function fillCredentials(password = "correct horse battery staple") {
  fireEvent.change(screen.getByLabelText("Email"), { target: { value: "ada@example.com" } });
  fireEvent.change(screen.getByLabelText("Password"), { target: { value: password } });
}

describe("email verification", () => {
  it("says to check the email when a registration does not sign in, and sends the link again", async () => {
    const api = renderApp("/register", {
      "POST /api/auth/refresh": [unauthorized],
      "POST /api/auth/register": [{ status: 202 }],
      "POST /api/auth/login": [{ status: 401, body: { status: 401, detail: "Invalid email or password." } }],
      "POST /api/auth/verify-email/resend": [{ status: 202 }],
    });
    await screen.findByRole("heading", { name: "Create an account" });
    fillCredentials();
    fireEvent.click(screen.getByRole("button", { name: "Create account" }));
    expect(await screen.findByRole("heading", { name: "Check your email" })).toBeTruthy();
    expect(screen.getByText(/we sent a message to ada@example.com/)).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Send the link again" }));
    expect(await screen.findByText("Sent: check your inbox.")).toBeTruthy();
    const resend = api.calls.find((c) => c.url === "/api/auth/verify-email/resend");
    expect(resend?.body).toEqual({ email: "ada@example.com" });
  });

  it("signs a new account in and shows the banner until the address is verified", async () => {
    const api = renderApp("/register", {
      "POST /api/auth/refresh": [unauthorized],
      "POST /api/auth/register": [{ status: 202 }],
      "POST /api/auth/login": [tokens(1)],
      "GET /api/auth/me": [ada],
      "GET /api/meta": withVerification,
      "GET /api/auth/email": () => unverifiedAddress,
      "GET /api/meta/resources": [{ body: [] }],
      "POST /api/auth/verify-email/resend": [{ status: 202 }],
    });
    await screen.findByRole("heading", { name: "Create an account" });
    fillCredentials();
    fireEvent.click(screen.getByRole("button", { name: "Create account" }));
    const banner = await screen.findByRole("region", { name: "Email verification" });
    expect(banner.textContent).toContain("open the link we sent to ada@example.com");
    fireEvent.click(await screen.findByRole("button", { name: "Send the link again" }));
    await screen.findByText("Sent: check your inbox.");
    const resend = api.calls.find((c) => c.url === "/api/auth/verify-email/resend");
    expect(resend?.body).toEqual({});
    expect(resend?.headers.Authorization).toBe("Bearer access-1");
  });

  it("shows no banner to a verified user or when the app does not verify", async () => {
    const api = renderApp("/", {
      "POST /api/auth/refresh": [tokens(1)],
      "GET /api/auth/me": [ada],
      "GET /api/meta/resources": [{ body: [] }],
    });
    expect(await screen.findByRole("link", { name: "Profile" })).toBeTruthy();
    expect(screen.queryByRole("region", { name: "Email verification" })).toBeNull();
    expect(api.count("GET /api/auth/email")).toBe(0); // an app that does not verify: not asked
    cleanup();
    disposeApp();
    const verified = renderApp("/", {
      "POST /api/auth/refresh": [tokens(1)],
      "GET /api/auth/me": [ada],
      "GET /api/meta": withVerification,
      "GET /api/auth/email": [{ body: { ...unverifiedAddress.body, verified_at: "2026-12-06T10:00:00Z" } }],
      "GET /api/meta/resources": [{ body: [] }],
    });
    await waitFor(() => expect(verified.count("GET /api/auth/email")).toBe(1));
    expect(screen.queryByRole("region", { name: "Email verification" })).toBeNull();
  });

  it("verifies the address of the link once, and takes the token out of the address bar", async () => {
    window.history.replaceState(null, "", "/verify-email#token=abc.def");
    const api = renderApp("/verify-email", {
      "POST /api/auth/refresh": [unauthorized],
      "POST /api/auth/verify-email": [{ status: 204 }],
    });
    expect(await screen.findByText(/Your email address is verified/)).toBeTruthy();
    expect(window.location.hash).toBe("");
    expect(api.count("POST /api/auth/verify-email")).toBe(1);
    expect(api.calls.find((c) => c.url === "/api/auth/verify-email")?.body).toEqual({ token: "abc.def" });
  });

  it("says why a link did not work", async () => {
    window.history.replaceState(null, "", "/verify-email#token=used");
    renderApp("/verify-email", {
      "POST /api/auth/refresh": [unauthorized],
      "POST /api/auth/verify-email": [{ status: 400, body: { status: 400, detail: "This verification link is invalid, used or expired: ask for a new one." } }],
    });
    expect(await screen.findByText(/This verification link is invalid, used or expired/)).toBeTruthy();
  });

  it("offers a new link when sign-in needs a verified address", async () => {
    const api = renderApp("/login", {
      "POST /api/auth/refresh": [unauthorized],
      "POST /api/auth/login": [unverified],
      "POST /api/auth/verify-email/resend": [{ status: 202 }],
    });
    await screen.findByRole("heading", { name: "Sign in" });
    fillCredentials();
    fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByText("Verify your email address before signing in.")).toBeTruthy();
    fireEvent.click(await screen.findByRole("button", { name: "Send the link again" }));
    await waitFor(() => expect(api.count("POST /api/auth/verify-email/resend")).toBe(1));
  });
});

describe("email change", () => {
  it("asks for the password and says where the link went", async () => {
    const api = renderApp("/profile", {
      "POST /api/auth/refresh": [tokens(1)],
      "GET /api/auth/me": [ada],
      "GET /api/auth/sessions": [{ body: [] }],
      "POST /api/auth/email": [
        { status: 422, body: { status: 422, detail: "invalid", errors: [{ in: "body", field: "password", message: "This is not your current password." }] } },
        { status: 202 },
      ],
    });
    fireEvent.change(await screen.findByLabelText("New email"), { target: { value: "ada.l@example.com" } });
    fireEvent.change(screen.getByLabelText("Password"), { target: { value: "wrong one" } });
    fireEvent.click(screen.getByRole("button", { name: "Change email" }));
    await screen.findByText("This is not your current password.");
    fireEvent.change(screen.getByLabelText("Password"), { target: { value: "correct horse battery staple" } });
    fireEvent.click(screen.getByRole("button", { name: "Change email" }));
    expect(await screen.findByText("We sent a link to ada.l@example.com. Open it to confirm the change.")).toBeTruthy();
    const sent = api.calls.filter((c) => c.url === "/api/auth/email" && c.method === "POST");
    expect(sent[1]?.body).toEqual({ new_email: "ada.l@example.com", password: "correct horse battery staple" });
  });

  it("confirms the change with the link once, and takes the token out of the address bar", async () => {
    window.history.replaceState(null, "", "/confirm-email#token=xyz");
    const api = renderApp("/confirm-email", {
      "POST /api/auth/refresh": [unauthorized],
      "POST /api/auth/email/confirm": [{ status: 204 }],
    });
    expect(await screen.findByText(/Your email address is changed/)).toBeTruthy();
    expect(screen.getByRole("link", { name: "Sign in with the new address" })).toBeTruthy();
    expect(window.location.hash).toBe("");
    expect(api.count("POST /api/auth/email/confirm")).toBe(1);
  });

  it("says why a change link did not work", async () => {
    window.history.replaceState(null, "", "/confirm-email#token=taken");
    renderApp("/confirm-email", {
      "POST /api/auth/refresh": [unauthorized],
      "POST /api/auth/email/confirm": [{ status: 409, body: { status: 409, detail: "This address belongs to another account now." } }],
    });
    expect(await screen.findByText(/This address belongs to another account now/)).toBeTruthy();
  });
});
