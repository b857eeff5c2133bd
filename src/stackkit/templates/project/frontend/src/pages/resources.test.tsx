import { cleanup, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { me, note, notesInfo, tokens } from "../test/fakeFetch";
import { setLocale } from "../i18n";
import { disposeApp, renderApp } from "../test/renderApp";
import { filterValue } from "./ResourceList";

afterEach(() => {
  cleanup();
  disposeApp();
});

/** The replies that restore a session (fresh queues for each test). */
const signedIn = () => ({ "POST /api/auth/refresh": [tokens(1)], "GET /api/auth/me": [me] });
const meta = () => ({ body: [notesInfo] });

describe("resource pages", () => {
  it("sorts by a column and filters from the list", async () => {
    const api = renderApp("/r/notes", {
      ...signedIn(),
      "GET /api/meta/resources": [meta()],
      "GET /api/notes": () => ({ body: { items: [note()], next_cursor: null } }),
    });
    expect(await screen.findByRole("link", { name: "7" })).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Sort by title" }));
    await screen.findByRole("columnheader", { name: /Title/, description: undefined });
    expect(screen.getByRole("columnheader", { name: /Title/ }).getAttribute("aria-sort")).toBe("ascending");

    const filter = screen.getByRole("form", { name: "Filter" });
    fireEvent.change(within(filter).getByLabelText("Field"), { target: { value: "title" } });
    fireEvent.change(within(filter).getByLabelText("Condition"), { target: { value: "contains" } });
    fireEvent.change(within(filter).getByLabelText("Value"), { target: { value: "milk" } });
    fireEvent.click(within(filter).getByRole("button", { name: "Add filter" }));
    expect(await screen.findByRole("button", { name: "Remove filter Title contains milk" })).toBeTruthy();
    await screen.findByRole("link", { name: "7" });

    const urls = api.calls.filter((c) => c.url.startsWith("/api/notes")).map((c) => c.url);
    expect(urls).toContain("/api/notes?limit=20&sort=title");
    expect(urls).toContain("/api/notes?limit=20&sort=title&title__contains=milk");
  });

  it("exports the rows its filters select as a CSV file", async () => {
    const made: Blob[] = [];
    URL.createObjectURL = vi.fn((blob: Blob) => {
      made.push(blob);
      return "blob:export";
    });
    URL.revokeObjectURL = vi.fn();
    const api = renderApp("/r/notes?sort=title&title__contains=milk&limit=5", {
      ...signedIn(),
      "GET /api/meta/resources": [meta()],
      "GET /api/notes": () => ({ body: { items: [note()], next_cursor: null } }),
      "GET /api/notes/export.csv": [{ body: "id,title\r\n7,Buy milk\r\n" }, { status: 429, body: { detail: "Slow down." }, headers: { "Retry-After": "5" } }],
    });
    fireEvent.click(await screen.findByRole("button", { name: "Export CSV" }));
    await waitFor(() => expect(made).toHaveLength(1));
    expect(await made[0]!.text()).toBe("id,title\r\n7,Buy milk\r\n");
    const call = api.calls.find((c) => c.url.startsWith("/api/notes/export.csv"))!;
    expect(call.url).toBe("/api/notes/export.csv?sort=title&title__contains=milk");
    fireEvent.click(screen.getByRole("button", { name: "Export CSV" }));
    expect((await screen.findByRole("alert")).textContent).toContain("Could not export");
  });

  it("creates a row from the schema's form and opens it", async () => {
    const api = renderApp("/r/notes/new", {
      ...signedIn(),
      "GET /api/meta/resources": [meta(), meta()],
      "POST /api/notes": [{ status: 201, body: note({ done: true }) }],
      "GET /api/notes/7": [{ body: note({ done: true }) }],
    });
    fireEvent.change(await screen.findByLabelText("Title"), { target: { value: "Buy milk" } });
    fireEvent.click(screen.getByLabelText("Done"));
    fireEvent.change(screen.getByLabelText("Priority (optional)"), { target: { value: "high" } });
    fireEvent.click(screen.getByRole("button", { name: "Create" }));

    expect(await screen.findByRole("heading", { name: "Note 7" })).toBeTruthy();
    expect((await screen.findByText("Note created.")).getAttribute("role")).toBe("status");
    const post = api.calls.find((c) => c.method === "POST" && c.url === "/api/notes");
    expect(post?.body).toEqual({ title: "Buy milk", body: null, done: true, priority: "high" });
  });

  it("shows the server's validation errors on their fields, and a 409 above the form", async () => {
    renderApp("/r/notes/new", {
      ...signedIn(),
      "GET /api/meta/resources": [meta()],
      "POST /api/notes": [
        { status: 422, body: { status: 422, detail: "invalid", errors: [{ in: "body", field: "title", message: "Too long." }] } },
        { status: 409, body: { status: 409, detail: "A note with this title exists.", field: "slug" } },
      ],
    });
    fireEvent.change(await screen.findByLabelText("Title"), { target: { value: "x" } });
    fireEvent.click(screen.getByRole("button", { name: "Create" }));
    const message = await screen.findByText("Too long.");
    expect(screen.getByLabelText("Title").getAttribute("aria-describedby")).toContain(message.id);

    fireEvent.click(screen.getByRole("button", { name: "Create" }));
    expect((await screen.findByRole("alert")).textContent).toBe("A note with this title exists. Change it and try again.");
  });

  it("refuses an empty required field before asking the server", async () => {
    const api = renderApp("/r/notes/new", { ...signedIn(), "GET /api/meta/resources": [meta()] });
    fireEvent.click(await screen.findByRole("button", { name: "Create" }));
    expect(await screen.findByText("Fill this in.")).toBeTruthy();
    expect(api.count("POST /api/notes")).toBe(0);
  });

  it("edits only the changed fields, with If-Match", async () => {
    const api = renderApp("/r/notes/7/edit", {
      ...signedIn(),
      "GET /api/meta/resources": [meta(), meta()],
      "GET /api/notes/7": [{ body: note() }, { body: note({ title: "Buy oat milk", version: 4 }) }],
      "PATCH /api/notes/7": [{ body: note({ title: "Buy oat milk", version: 4 }) }],
    });
    const title = await screen.findByLabelText("Title");
    expect((title as HTMLInputElement).value).toBe("Buy milk");
    fireEvent.change(title, { target: { value: "Buy oat milk" } });
    fireEvent.click(screen.getByRole("button", { name: "Save changes" }));

    expect(await screen.findByText("Buy oat milk")).toBeTruthy();
    const patch = api.calls.find((c) => c.method === "PATCH");
    expect(patch?.body).toEqual({ title: "Buy oat milk" });
    expect(patch?.headers["If-Match"]).toBe('"3"');
  });

  it("explains a stale edit (412)", async () => {
    renderApp("/r/notes/7/edit", {
      ...signedIn(),
      "GET /api/meta/resources": [meta()],
      "GET /api/notes/7": [{ body: note() }],
      "PATCH /api/notes/7": [{ status: 412, body: { status: 412, detail: "Precondition failed." } }],
    });
    fireEvent.change(await screen.findByLabelText("Title"), { target: { value: "Other" } });
    fireEvent.click(screen.getByRole("button", { name: "Save changes" }));
    expect((await screen.findByRole("alert")).textContent).toMatch(/Someone changed this since you opened it/);
  });

  it("deletes after a confirmation, and Cancel keeps the row", async () => {
    const api = renderApp("/r/notes/7", {
      ...signedIn(),
      "GET /api/meta/resources": [meta(), meta()],
      "GET /api/notes/7": [{ body: note() }],
      "DELETE /api/notes/7": [{ status: 204 }],
      "GET /api/notes": [{ body: { items: [], next_cursor: null } }],
    });
    fireEvent.click(await screen.findByRole("button", { name: "Delete" }));
    let dialog = screen.getByRole("dialog", { name: "Delete note 7?" });
    expect(document.activeElement).toBe(within(dialog).getByRole("button", { name: "Cancel" }));
    fireEvent.keyDown(dialog, { key: "Escape" });
    expect(screen.queryByRole("dialog")).toBeNull();
    expect(api.count("DELETE /api/notes/7")).toBe(0);

    fireEvent.click(screen.getByRole("button", { name: "Delete" }));
    dialog = screen.getByRole("dialog");
    fireEvent.click(within(dialog).getByRole("button", { name: "Delete" }));
    expect(await screen.findByText("Note 7 was deleted.")).toBeTruthy();
    expect(await screen.findByText("Nothing here yet.")).toBeTruthy();
    expect(api.calls.find((c) => c.method === "DELETE")?.headers["If-Match"]).toBe('"3"');
  });

  it("shows the message of a deletion once, not again when the list's address comes back", async () => {
    renderApp("/r/notes/7", {
      ...signedIn(),
      "GET /api/meta/resources": [meta(), meta()],
      "GET /api/notes/7": [{ body: note() }],
      "DELETE /api/notes/7": [{ status: 204 }],
      "GET /api/notes": () => ({ body: { items: [note({ id: 8 })], next_cursor: null } }),
    });
    fireEvent.click(await screen.findByRole("button", { name: "Delete" }));
    fireEvent.click(within(screen.getByRole("dialog")).getByRole("button", { name: "Delete" }));
    expect(await screen.findByText("Note 7 was deleted.")).toBeTruthy();
    for (let turn = 0; turn < 3; turn++) fireEvent.click(await screen.findByRole("button", { name: "Sort by title" })); // title, -title, none
    await screen.findByRole("link", { name: "8" });
    expect(screen.queryByText("Note 7 was deleted.")).toBeNull();
  });

  it("keeps one condition per field and operator, and leaves the pager's parameters to the pager", async () => {
    const api = renderApp("/r/notes?title__contains=tea&limit=5&cursor=forged", {
      ...signedIn(),
      "GET /api/meta/resources": [meta()],
      "GET /api/notes": () => ({ body: { items: [note()], next_cursor: null } }),
    });
    const filter = await screen.findByRole("form", { name: "Filter" });
    fireEvent.change(within(filter).getByLabelText("Field"), { target: { value: "title" } });
    fireEvent.change(within(filter).getByLabelText("Condition"), { target: { value: "contains" } });
    fireEvent.change(within(filter).getByLabelText("Value"), { target: { value: "milk" } });
    fireEvent.click(within(filter).getByRole("button", { name: "Add filter" }));
    expect(await screen.findByRole("button", { name: "Remove filter Title contains milk" })).toBeTruthy();
    expect(screen.queryByRole("button", { name: "Remove filter Title contains tea" })).toBeNull();
    const urls = api.calls.filter((c) => c.url.startsWith("/api/notes")).map((c) => c.url);
    expect(urls[0]).toBe("/api/notes?limit=20&title__contains=tea");
    expect(urls).toContain("/api/notes?limit=20&title__contains=milk");
  });

  it("says when to retry after a 429", async () => {
    renderApp("/r/notes", {
      ...signedIn(),
      "GET /api/meta/resources": [meta()],
      "GET /api/notes": [{ status: 429, body: { status: 429, detail: "Too many requests." }, headers: { "Retry-After": "12" } }],
    });
    expect((await screen.findByRole("alert")).textContent).toContain("Too many attempts. Try again in 12 seconds.");
  });
});

describe("search", () => {
  it("searches the list with q, kept in the address with the filters", async () => {
    const searchable = { ...notesInfo, searchable: ["title", "body"] };
    const api = renderApp("/r/notes?title__contains=milk", {
      ...signedIn(),
      "GET /api/meta/resources": [{ body: [searchable] }],
      "GET /api/notes": (call) => ({ body: { items: call.url.includes("q=oat") ? [] : [note()], next_cursor: null } }),
    });
    const box = await screen.findByRole("searchbox", { name: "Words to find in notes" });
    fireEvent.change(box, { target: { value: " oat milk " } });
    fireEvent.click(screen.getByRole("button", { name: "Search" }));
    expect(await screen.findByText("Nothing matches “oat milk”.")).toBeTruthy();
    const urls = api.calls.filter((c) => c.url.startsWith("/api/notes")).map((c) => c.url);
    expect(urls).toContain("/api/notes?limit=20&q=oat+milk&title__contains=milk");
    expect(screen.getByRole("button", { name: "Remove filter Title contains milk" })).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Clear search" }));
    expect(await screen.findByRole("link", { name: "7" })).toBeTruthy();
  });
});

describe("filter values", () => {
  afterEach(async () => {
    await setLocale("en");
  });

  it("sends a decimal with a point and a local date and time in UTC; a list as typed", async () => {
    expect(filterValue("decimal", "gte", "12.5")).toBe("12.5");
    await setLocale("de");
    expect(filterValue("decimal", "gte", "12,5")).toBe("12.5");
    expect(filterValue("number", "lt", "0,25")).toBe("0.25");
    expect(filterValue("decimal", "in", "1,5")).toBe("1,5");
    expect(filterValue("text", "contains", "12,5")).toBe("12,5");
    const local = "2026-12-07T09:30";
    expect(filterValue("datetime", "lt", local)).toBe(new Date(local).toISOString());
    expect(filterValue("datetime", "lt", "soon")).toBe("soon"); // the API says what is wrong
  });
});
