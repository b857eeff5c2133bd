import { cleanup, fireEvent, screen, waitFor, within } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";
import { me, note, notesInfo, tokens } from "../test/fakeFetch";
import { disposeApp, renderApp } from "../test/renderApp";

afterEach(() => {
  cleanup();
  disposeApp();
});

const signedIn = () => ({ "POST /api/auth/refresh": [tokens(1)], "GET /api/auth/me": [me] });

const category = { field: "category_id", resource: "categories", path: "/api/categories", display: "name" };

/** Notes that refer to categories (`category:ref=Category`). */
const notesWithCategory = {
  ...notesInfo,
  relations: { category },
  schemas: {
    create: {
      ...notesInfo.schemas.create,
      required: ["title", "category_id"],
      properties: { ...notesInfo.schemas.create.properties, category_id: { title: "Category Id", type: "integer" } },
    },
    update: {
      ...notesInfo.schemas.update,
      properties: { ...notesInfo.schemas.update.properties, category_id: { title: "Category Id", anyOf: [{ type: "integer" }, { type: "null" }] } },
    },
    read: {
      ...notesInfo.schemas.read,
      properties: { ...notesInfo.schemas.read.properties, category_id: { title: "Category Id", type: "integer" } },
    },
  },
  filterable: ["category_id", "created_at", "title"],
};

const categoriesInfo = {
  ...notesInfo,
  name: "categories",
  path: "/api/categories",
  display: "name",
  schemas: {
    create: { title: "CategoryIn", type: "object", required: ["name"], properties: { name: { title: "Name", type: "string", maxLength: 200 } } },
    update: { title: "CategoryPatch", type: "object", properties: { name: { title: "Name", type: "string", maxLength: 200 } } },
    read: {
      title: "CategoryOut",
      type: "object",
      properties: { name: { title: "Name", type: "string", maxLength: 200 }, id: { title: "Id", type: "integer" }, version: { title: "Version", type: "integer" } },
    },
  },
};

const meta = () => ({ body: [categoriesInfo, notesWithCategory] });
const work = { id: 3, name: "Work", version: 1 };
const choices = (...items: { id: number; label: string }[]) => ({ body: { items } });

describe("relations", () => {
  it("picks a reference from the caller's rows with the keyboard", async () => {
    const api = renderApp("/r/notes/new", {
      ...signedIn(),
      "GET /api/meta/resources": [meta(), meta()],
      "GET /api/categories/choices": (call) =>
        call.url.includes("q=wo") ? choices({ id: 3, label: "Work" }, { id: 4, label: "Workshop" }) : choices({ id: 5, label: "Home" }),
      "POST /api/notes": [{ status: 201, body: note({ category_id: 4 }) }],
      "GET /api/notes/7": [{ body: { ...note({ category_id: 4 }), category: { id: 4, name: "Workshop" } } }],
    });
    fireEvent.change(await screen.findByLabelText("Title"), { target: { value: "Buy milk" } });
    const picker = screen.getByRole("combobox", { name: "Category" });
    fireEvent.focus(picker);
    expect(await screen.findByRole("option", { name: "Home" })).toBeTruthy();
    fireEvent.change(picker, { target: { value: "wo" } });
    const listbox = await screen.findByRole("listbox", { name: "Category" });
    await within(listbox).findByRole("option", { name: "Workshop" });
    expect(picker.getAttribute("aria-expanded")).toBe("true");
    fireEvent.keyDown(picker, { key: "ArrowDown" });
    expect(picker.getAttribute("aria-activedescendant")).toBe(within(listbox).getByRole("option", { name: "Workshop" }).id);
    fireEvent.keyDown(picker, { key: "Enter" });
    expect((picker as HTMLInputElement).value).toBe("Workshop");
    expect(picker.getAttribute("aria-expanded")).toBe("false");
    fireEvent.click(screen.getByRole("button", { name: "Create" }));

    expect(await screen.findByRole("link", { name: "Workshop" })).toBeTruthy();
    const post = api.calls.find((c) => c.method === "POST" && c.url === "/api/notes");
    expect(post?.body).toMatchObject({ title: "Buy milk", category_id: 4 });
    const search = api.calls.find((c) => c.url.includes("choices?q=wo"));
    expect(search?.url).toBe("/api/categories/choices?q=wo");
  });

  it("shows a reference in lists by its label, linked to its page", async () => {
    const api = renderApp("/r/notes", {
      ...signedIn(),
      "GET /api/meta/resources": [meta()],
      "GET /api/notes": () => ({
        body: {
          items: [
            { ...note({ category_id: 3 }), category: work },
            { ...note({ id: 8, category_id: 9 }), category: null },
          ],
          next_cursor: null,
        },
      }),
    });
    const link = await screen.findByRole("link", { name: "Work" });
    expect(link.getAttribute("href")).toBe("/r/categories/3");
    expect(screen.getByText("#9")).toBeTruthy(); // a row the caller may not see
    expect(screen.getByRole("columnheader", { name: "Category" })).toBeTruthy();
    expect(api.calls.find((c) => c.url.startsWith("/api/notes"))?.url).toBe("/api/notes?limit=20&include=category");
  });

  it("lists a row's children and makes a new one with the reference filled in", async () => {
    const api = renderApp("/r/categories/3", {
      ...signedIn(),
      "GET /api/meta/resources": [meta(), meta(), meta()],
      "GET /api/categories/3": [{ body: work }],
      "GET /api/notes": [{ body: { items: [note({ category_id: 3 })], next_cursor: null } }],
      "GET /api/categories/choices": [choices({ id: 3, label: "Work" })],
      "POST /api/notes": [{ status: 201, body: note({ category_id: 3 }) }],
      "GET /api/notes/7": [{ body: { ...note({ category_id: 3 }), category: work } }],
    });
    const section = await screen.findByRole("region", { name: "Notes" });
    expect(await within(section).findByRole("link", { name: "Buy milk" })).toBeTruthy();
    expect(api.calls.find((c) => c.url.startsWith("/api/notes"))?.url).toBe("/api/notes?category_id=3&limit=10");
    fireEvent.click(within(section).getByRole("link", { name: "New note" }));

    const picker = await screen.findByRole("combobox", { name: "Category" });
    await waitFor(() => expect((picker as HTMLInputElement).value).toBe("Work"));
    expect(api.calls.find((c) => c.url.includes("/choices"))?.url).toBe("/api/categories/choices?ids=3&limit=1");
    fireEvent.change(screen.getByLabelText("Title"), { target: { value: "Buy milk" } });
    fireEvent.click(screen.getByRole("button", { name: "Create" }));
    await screen.findByRole("heading", { name: "Note 7" });
    expect(api.calls.find((c) => c.url === "/api/notes" && c.method === "POST")?.body).toMatchObject({ category_id: 3 });
  });

  it("asks once for the label of a reference the address writes as 03", async () => {
    const api = renderApp("/r/notes/new?category_id=03", {
      ...signedIn(),
      "GET /api/meta/resources": [meta(), meta()],
      "GET /api/categories/choices": () => choices({ id: 3, label: "Work" }),
    });
    const picker = await screen.findByRole("combobox", { name: "Category" });
    await waitFor(() => expect((picker as HTMLInputElement).value).toBe("Work"));
    await new Promise((resolve) => setTimeout(resolve, 200)); // a window for any request after it
    expect(api.count("GET /api/categories/choices")).toBe(1);
  });

  it("leaves what the user types alone when the picked row's label comes late", async () => {
    let label: (reply: { body: unknown }) => void = () => undefined;
    renderApp("/r/notes/new?category_id=3", {
      ...signedIn(),
      "GET /api/meta/resources": [meta(), meta()],
      "GET /api/categories/choices": (call) =>
        call.url.includes("ids=3")
          ? new Promise((resolve) => {
              label = resolve;
            })
          : choices({ id: 4, label: "Workshop" }),
    });
    const picker = (await screen.findByRole("combobox", { name: "Category" })) as HTMLInputElement;
    fireEvent.focus(picker);
    fireEvent.change(picker, { target: { value: "wor" } });
    label(choices({ id: 3, label: "Work" }));
    expect(await screen.findByRole("option", { name: "Workshop" })).toBeTruthy();
    expect(picker.value).toBe("wor");
    fireEvent.blur(picker); // leaving the search shows the row picked
    expect(picker.value).toBe("Work");
  });

  it("links many rows: picked one by one, shown as chips, sent as a list", async () => {
    const tags = { field: "category_ids", resource: "categories", path: "/api/categories", display: "name", many: true };
    const withTags = {
      ...notesWithCategory,
      relations: { category, categories: tags },
      schemas: {
        ...notesWithCategory.schemas,
        create: {
          ...notesWithCategory.schemas.create,
          required: ["title"],
          properties: { title: notesInfo.schemas.create.properties.title, category_ids: { title: "Category Ids", type: "array", items: { type: "integer" } } },
        },
        read: {
          ...notesWithCategory.schemas.read,
          properties: { ...notesWithCategory.schemas.read.properties, category_ids: { title: "Category Ids", type: "array", items: { type: "integer" } } },
        },
      },
    };
    const withTagsMeta = () => ({ body: [categoriesInfo, withTags] });
    const api = renderApp("/r/notes/new", {
      ...signedIn(),
      "GET /api/meta/resources": [withTagsMeta(), withTagsMeta(), withTagsMeta()],
      "GET /api/categories/choices": (call) =>
        call.url.includes("q=h") ? choices({ id: 5, label: "Home" }) : choices({ id: 3, label: "Work" }, { id: 5, label: "Home" }, { id: 6, label: "Play" }),
      "POST /api/notes": [{ status: 201, body: note({ category_ids: [3, 5] }) }],
      "GET /api/notes/7": [{ body: { ...note({ category_ids: [3, 5] }), categories: [work, { id: 5, name: "Home", version: 1 }], category: null } }],
    });
    fireEvent.change(await screen.findByLabelText("Title"), { target: { value: "Buy milk" } });
    const picker = screen.getByRole("combobox", { name: /^Categories/ });
    fireEvent.focus(picker);
    await screen.findByRole("option", { name: "Work" });
    fireEvent.keyDown(picker, { key: "Enter" });
    const chips = await screen.findByRole("list", { name: /^Categories.*picked$/ });
    expect(within(chips).getByText("Work")).toBeTruthy();
    fireEvent.change(picker, { target: { value: "h" } });
    await screen.findByRole("option", { name: "Home" });
    fireEvent.keyDown(picker, { key: "Enter" });
    await within(chips).findByText("Home");
    fireEvent.focus(picker);
    fireEvent.change(picker, { target: { value: "" } });
    await screen.findByRole("option", { name: "Play" });
    expect(screen.queryByRole("option", { name: "Work" })).toBeNull(); // picked already
    fireEvent.keyDown(picker, { key: "Enter" });
    fireEvent.click(await screen.findByRole("button", { name: "Remove Play" }));
    fireEvent.click(screen.getByRole("button", { name: "Create" }));

    await screen.findByRole("heading", { name: "Note 7" });
    expect(api.calls.find((c) => c.url === "/api/notes" && c.method === "POST")?.body).toMatchObject({ category_ids: [3, 5] });
    expect(await screen.findByRole("link", { name: "Home" })).toBeTruthy();
    expect(screen.getByRole("link", { name: "Work" }).getAttribute("href")).toBe("/r/categories/3");
  });

  it("filters the list across a relation, a many-to-many one too", async () => {
    const tags = { field: "category_ids", resource: "categories", path: "/api/categories", display: "name", many: true };
    const withTags = { ...notesWithCategory, relations: { category, categories: tags } };
    const listMeta = () => ({ body: [{ ...categoriesInfo, filterable: ["name"] }, withTags] });
    const api = renderApp("/r/notes", {
      ...signedIn(),
      "GET /api/meta/resources": [listMeta(), listMeta()],
      "GET /api/notes": () => ({ body: { items: [], next_cursor: null } }),
    });
    const field = await screen.findByLabelText("Field");
    const names = within(field).getAllByRole("option").map((option) => option.textContent);
    expect(names).toEqual(expect.arrayContaining(["Category: name", "Categories: name"]));
    fireEvent.change(field, { target: { value: "categories.name" } });
    fireEvent.change(screen.getByLabelText("Condition"), { target: { value: "contains" } });
    fireEvent.change(screen.getByLabelText("Value"), { target: { value: "wor" } });
    fireEvent.click(screen.getByRole("button", { name: "Add filter" }));
    await waitFor(() => expect(api.calls.some((c) => c.url.includes("categories.name__contains=wor"))).toBe(true));
    expect(screen.getByRole("list", { name: "Active filters" }).textContent).toContain("Categories: name contains “wor”");
  });
});
