import { afterEach, describe, expect, it } from "vitest";
import { apiFetch, type RequestOptions } from "./api";
import { Session } from "./auth/session";
import { fakeFetch, me, tokens, unauthorized } from "./test/fakeFetch";
import { fillPath, typedApi, type Answer, type RequestFn, type Schema } from "./typedApi";
import type { paths } from "./openapi";

// A resource `notes` as openapi-typescript writes it, trimmed: the tests use it rather
// than src/openapi.d.ts, whose paths change with the app's resources.
type Reply<T> = { headers: { [name: string]: unknown }; content: { "application/json": T } };
type Problem = { headers: { [name: string]: unknown }; content: { "application/problem+json": { detail?: string } } };
type NoParameters = { query?: never; header?: never; path?: never; cookie?: never };
type IdParameter = { query?: never; header?: never; path: { id: number }; cookie?: never };
interface Note {
  id: number;
  title: string;
}
interface NotesPaths {
  "/api/notes": {
    parameters: NoParameters;
    get: {
      parameters: {
        query?: { limit?: number; cursor?: string | null };
        header?: never;
        path?: never;
        cookie?: never;
      };
      requestBody?: never;
      responses: { 200: Reply<{ items: Note[]; next_cursor: string | null }>; 401: Problem };
    };
    put?: never;
    post: {
      parameters: NoParameters;
      requestBody: { content: { "application/json": { title: string } } };
      responses: { 201: Reply<Note>; 422: Problem };
    };
    delete?: never;
  };
  "/api/notes/{id}": {
    parameters: NoParameters;
    get: { parameters: IdParameter; requestBody?: never; responses: { 200: Reply<Note>; 404: Problem } };
    patch: {
      parameters: IdParameter;
      requestBody: { content: { "application/json": { title?: string } } };
      responses: { 200: Reply<Note>; 412: Problem };
    };
    delete: {
      parameters: IdParameter;
      requestBody?: never;
      responses: { 204: { headers: { [name: string]: unknown }; content?: never }; 404: Problem };
    };
  };
}

const note = { id: 7, title: "Groceries" };

function notesApi(routes: Parameters<typeof fakeFetch>[0]) {
  const server = fakeFetch(routes);
  const request: RequestFn = <T>(path: string, options?: Omit<RequestOptions, "token">) =>
    apiFetch<T>(path, options, server.fetch);
  return { api: typedApi<NotesPaths>(request), calls: server.calls };
}

let session: Session | undefined;

afterEach(() => {
  session?.dispose();
  session = undefined;
});

describe("typedApi", () => {
  it("fills the path's placeholders", async () => {
    const { api, calls } = notesApi({ "GET /api/notes/7": [{ body: note }] });
    const found: Note = await api.get("/api/notes/{id}", { params: { id: 7 } });
    expect(found).toEqual(note);
    expect(calls[0]?.url).toBe("/api/notes/7");
    expect(calls[0]?.method).toBe("GET");
  });

  it("sends the query, declared filters and others alike", async () => {
    const { api, calls } = notesApi({ "GET /api/notes": [{ body: { items: [note], next_cursor: null } }] });
    const page = await api.get("/api/notes", { query: { limit: 20, cursor: null, title__contains: "Gro" } });
    expect(page.items[0]?.title).toBe("Groceries");
    expect(calls[0]?.url).toBe("/api/notes?limit=20&title__contains=Gro");
  });

  it("sends the body as JSON, with the method and headers asked for", async () => {
    const { api, calls } = notesApi({
      "POST /api/notes": [{ status: 201, body: note }],
      "PATCH /api/notes/7": [{ body: { ...note, title: "Shopping" } }],
    });
    expect(await api.post("/api/notes", { body: { title: "Groceries" } })).toEqual(note);
    const headers = { "If-Match": '"v1"' };
    await api.patch("/api/notes/{id}", { params: { id: 7 }, body: { title: "Shopping" }, headers });
    const [post, patch] = calls;
    expect(post?.body).toEqual({ title: "Groceries" });
    expect(patch?.method).toBe("PATCH");
    expect(patch?.body).toEqual({ title: "Shopping" });
    expect(patch?.headers["If-Match"]).toBe('"v1"');
  });

  it("resolves a 204 to undefined", async () => {
    const { api } = notesApi({ "DELETE /api/notes/7": [{ status: 204 }] });
    const gone: undefined = await api.delete("/api/notes/{id}", { params: { id: 7 } });
    expect(gone).toBeUndefined();
  });

  it("goes through the session: a 401 leads to one refresh and one retry", async () => {
    const server = fakeFetch({
      "POST /api/auth/login": [tokens(1)],
      "GET /api/auth/me": [me],
      "GET /api/notes/7": [unauthorized, { body: note }],
      "POST /api/auth/refresh": [tokens(2)],
    });
    session = new Session({ fetch: server.fetch });
    await session.login("ada@example.com", "correct horse battery staple");
    const api = typedApi<NotesPaths>(session.request.bind(session));

    expect(await api.get("/api/notes/{id}", { params: { id: 7 } })).toEqual(note);
    expect(server.count("POST /api/auth/refresh")).toBe(1);
    expect(server.calls.at(-1)?.headers.Authorization).toBe("Bearer access-2");
  });

  it("refuses, when type-checked, what the API does not have", () => {
    const { api } = notesApi({});
    // Checked by `tsc --noEmit` (npm run build), never run.
    const wrong = () => {
      // @ts-expect-error: no such path
      void api.get("/api/nots");
      // @ts-expect-error: /api/notes answers GET and POST only
      void api.delete("/api/notes", { params: { id: 7 } });
      // @ts-expect-error: {id} needs its value
      void api.get("/api/notes/{id}");
      // @ts-expect-error: an id is a number
      void api.get("/api/notes/{id}", { params: { id: "7" } });
      // @ts-expect-error: a note's title is a string
      void api.post("/api/notes", { body: { title: 7 } });
      // @ts-expect-error: a POST to /api/notes needs a body
      void api.post("/api/notes");
      // @ts-expect-error: a declared filter keeps its type
      void api.get("/api/notes", { query: { limit: "many" } });
      // @ts-expect-error: a note has no `body`
      void api.get("/api/notes/{id}", { params: { id: 7 } }).then((found) => found.body);
    };
    expect(wrong).toBeTypeOf("function");
  });
});

describe("typedApi over the app's own paths (src/openapi.d.ts)", () => {
  it("types the answer from the schema", async () => {
    const server = fakeFetch({ "GET /api/auth/me": [me] });
    const request: RequestFn = <T>(path: string, options?: Omit<RequestOptions, "token">) =>
      apiFetch<T>(path, options, server.fetch);
    const user: Schema<"UserOut"> = await typedApi(request).get("/api/auth/me");
    expect(user.email).toBe("ada@example.com");
    const sameType: Answer<paths["/api/auth/me"]["get"]> = user;
    expect(sameType).toBe(user);
  });
});

describe("fillPath", () => {
  it("encodes each value, and names a missing one", () => {
    expect(fillPath("/api/tags/{name}", { name: "a/b c" })).toBe("/api/tags/a%2Fb%20c");
    expect(fillPath("/api/notes")).toBe("/api/notes");
    expect(() => fillPath("/api/notes/{id}", {})).toThrow("/api/notes/{id}: no value for {id}");
  });
});
