import { cleanup, fireEvent, screen } from "@testing-library/react";
import { afterEach, expect, it } from "vitest";
import { setLocale } from "../i18n";
import { unauthorized } from "../test/fakeFetch";
import { disposeApp, renderApp } from "../test/renderApp";

const signedOut = { "POST /api/auth/refresh": [unauthorized] };

afterEach(async () => {
  cleanup();
  disposeApp();
  await setLocale("en");
  localStorage.clear();
  document.documentElement.classList.remove("dark");
});

it("switches the language from the footer, and remembers it", async () => {
  renderApp("/login", signedOut);
  expect(await screen.findByRole("heading", { name: "Sign in" })).toBeTruthy();
  fireEvent.change(screen.getByLabelText("Language"), { target: { value: "de" } });
  expect(await screen.findByRole("heading", { name: "Anmelden" })).toBeTruthy();
  expect(screen.getByRole("button", { name: "Anmelden" })).toBeTruthy();
  expect(document.documentElement.lang).toBe("de");
  expect(localStorage.getItem("locale")).toBe("de");
});

it("switches the theme from the footer, and remembers it", async () => {
  renderApp("/login", signedOut);
  const theme = await screen.findByLabelText("Theme");
  expect((theme as HTMLSelectElement).value).toBe("system");
  fireEvent.change(theme, { target: { value: "dark" } });
  expect(document.documentElement.classList.contains("dark")).toBe(true);
  expect(localStorage.getItem("theme")).toBe("dark");
  fireEvent.change(theme, { target: { value: "system" } });
  expect(document.documentElement.classList.contains("dark")).toBe(false);
  expect(localStorage.getItem("theme")).toBeNull();
});
