import { cleanup, fireEvent, screen } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { me, notesInfo, tokens, unauthorized } from "./test/fakeFetch";
import { disposeApp, renderApp } from "./test/renderApp";

afterEach(() => {
  cleanup();
  disposeApp();
});

describe("App", () => {
  it("sends a signed-out visitor to the login page", async () => {
    renderApp("/r/notes", { "POST /api/auth/refresh": [unauthorized] });
    expect(await screen.findByRole("heading", { name: "Sign in" })).toBeTruthy();
  });

  it("shows the server's field errors on the register form, tied to their inputs", async () => {
    renderApp("/register", {
      "POST /api/auth/refresh": [unauthorized],
      "POST /api/auth/register": [
        {
          status: 422,
          body: {
            status: 422,
            detail: "The request is not valid: body.password.",
            errors: [{ in: "body", field: "password", message: "This password is too common.", type: "value_error" }],
          },
        },
      ],
    });
    fireEvent.change(await screen.findByLabelText("Email"), { target: { value: "ada@example.com" } });
    fireEvent.change(screen.getByLabelText("Password"), { target: { value: "password1" } });
    fireEvent.click(screen.getByRole("button", { name: "Create account" }));

    const message = await screen.findByText("This password is too common.");
    const input = screen.getByLabelText("Password");
    expect(input.getAttribute("aria-invalid")).toBe("true");
    expect(input.getAttribute("aria-describedby")?.split(" ")).toContain(message.id);
    expect(screen.getByLabelText("Email").getAttribute("aria-invalid")).toBeNull();
  });

  it("shows a taken email on the email field", async () => {
    renderApp("/register", {
      "POST /api/auth/refresh": [unauthorized],
      "POST /api/auth/register": [{ status: 409, body: { status: 409, detail: "Email taken.", field: "email" } }],
    });
    fireEvent.change(await screen.findByLabelText("Email"), { target: { value: "ada@example.com" } });
    fireEvent.change(screen.getByLabelText("Password"), { target: { value: "correct horse" } });
    fireEvent.click(screen.getByRole("button", { name: "Create account" }));
    await screen.findByText("An account with this email already exists.");
    expect(screen.getByLabelText("Email").getAttribute("aria-invalid")).toBe("true");
  });

  it("signs in and lists the resources on the dashboard", async () => {
    renderApp("/login", {
      "POST /api/auth/refresh": [unauthorized],
      "POST /api/auth/login": [tokens(1)],
      "GET /api/auth/me": [me],
      "GET /api/meta/resources": [{ body: [{ name: "notes", path: "/api/notes", public: false, owned: true }] }],
    });
    fireEvent.change(await screen.findByLabelText("Email"), { target: { value: "ada@example.com" } });
    fireEvent.change(screen.getByLabelText("Password"), { target: { value: "correct horse" } });
    fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("heading", { name: "Dashboard" })).toBeTruthy();
    const link = await screen.findByRole("link", { name: /Notes/ });
    expect(link.getAttribute("href")).toBe("/r/notes");
    expect(screen.getByRole("button", { name: "Log out" })).toBeTruthy();
  });

  it("pages through a resource with next_cursor", async () => {
    const api = renderApp("/r/notes", {
      "POST /api/auth/refresh": [tokens(1)],
      "GET /api/auth/me": [me],
      "GET /api/meta/resources": [{ body: [notesInfo] }],
      "GET /api/notes": [
        { body: { items: [{ id: 1, title: "first", done: false }], next_cursor: "c2" } },
        { body: { items: [{ id: 2, title: "second", done: true }], next_cursor: null } },
      ],
    });
    expect(await screen.findByText("first")).toBeTruthy();
    expect(screen.getByRole("columnheader", { name: /Title/ })).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Next page" }));
    expect(await screen.findByText("second")).toBeTruthy();
    expect(api.calls.filter((c) => c.url.startsWith("/api/notes")).map((c) => c.url)).toEqual([
      "/api/notes?limit=20",
      "/api/notes?limit=20&cursor=c2",
    ]);
    expect((screen.getByRole("button", { name: "Next page" }) as HTMLButtonElement).disabled).toBe(true);
  });
});
