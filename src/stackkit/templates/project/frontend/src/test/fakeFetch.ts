import type { FetchFn } from "../api";

export interface Call {
  url: string;
  method: string;
  headers: Record<string, string>;
  credentials: RequestCredentials | undefined;
  body: unknown;
}

type Reply = { status?: number; body?: unknown; headers?: Record<string, string> };
type Handler = (call: Call) => Reply | Promise<Reply>;

/** What every signed-in page asks, answered unless a test's routes say otherwise. */
const DEFAULT_ROUTES: Record<string, () => Reply[]> = {
  "GET /api/meta": () => [{ body: { admin_role: "admin" } }],
  "GET /api/auth/audit": () => [{ body: { items: [], next_cursor: null } }],
  "GET /api/auth/two-factor": () => [{ body: { enabled: false, enabled_at: null, recovery_codes_left: 0 } }],
};

/** A fetch that answers from `routes` ("POST /api/auth/refresh" -> handler or a queue of replies). */
export function fakeFetch(routes: Record<string, Handler | Reply[]>) {
  const calls: Call[] = [];
  const fetchFn: FetchFn = async (input, init) => {
    const headers = (init.headers ?? {}) as Record<string, string>;
    const call: Call = {
      url: input,
      method: init.method ?? "GET",
      headers,
      credentials: init.credentials,
      body: typeof init.body === "string" ? (JSON.parse(init.body) as unknown) : init.body,
    };
    calls.push(call);
    const key = `${call.method} ${input.split("?")[0]}`;
    const route = routes[key] ?? DEFAULT_ROUTES[key]?.();
    if (!route) throw new Error(`unexpected request: ${key}`);
    const reply = Array.isArray(route) ? route.shift() : await route(call);
    if (!reply) throw new Error(`no reply left for ${key}`);
    const status = reply.status ?? 200;
    const isProblem = status >= 400;
    return new Response(reply.body === undefined ? null : JSON.stringify(reply.body), {
      status,
      headers: {
        "Content-Type": isProblem ? "application/problem+json" : "application/json",
        ...reply.headers,
      },
    });
  };
  const count = (key: string) => calls.filter((c) => `${c.method} ${c.url.split("?")[0]}` === key).length;
  return { fetch: fetchFn, calls, count };
}

export const tokens = (n: number, expiresIn = 900) => ({
  status: 200,
  body: { access_token: `access-${n}`, token_type: "bearer", expires_in: expiresIn, refresh_token: `refresh-${n}` },
});

export const unauthorized = { status: 401, body: { type: "about:blank", title: "Unauthorized", status: 401, detail: "Token expired." } };

export const me = { status: 200, body: { id: 1, email: "ada@example.com", roles: [] } };

export const admin = { status: 200, body: { id: 1, email: "ada@example.com", roles: ["admin"] } };

/** GET /api/meta/resources's entry for a generated `note title:str body:text:optional done:bool` resource. */
export const notesInfo = {
  name: "notes",
  path: "/api/notes",
  public: false,
  owned: true,
  schemas: {
    create: {
      title: "NoteIn",
      type: "object",
      required: ["title"],
      properties: {
        title: { title: "Title", type: "string", maxLength: 200 },
        body: { title: "Body", anyOf: [{ type: "string" }, { type: "null" }], default: null },
        done: { title: "Done", type: "boolean", default: false },
        priority: { title: "Priority", type: "string", enum: ["low", "high"], default: "low" },
      },
    },
    update: {
      title: "NotePatch",
      type: "object",
      properties: {
        title: { title: "Title", type: "string", maxLength: 200, default: null },
        body: { title: "Body", anyOf: [{ type: "string" }, { type: "null" }], default: null },
        done: { title: "Done", type: "boolean", default: null },
        priority: { title: "Priority", type: "string", enum: ["low", "high"], default: null },
      },
    },
    read: {
      title: "NoteOut",
      type: "object",
      required: ["id", "title", "version"],
      properties: {
        title: { title: "Title", type: "string", maxLength: 200 },
        body: { title: "Body", anyOf: [{ type: "string" }, { type: "null" }], default: null },
        done: { title: "Done", type: "boolean", default: false },
        priority: { title: "Priority", type: "string", enum: ["low", "high"] },
        id: { title: "Id", type: "integer" },
        owner_id: { title: "Owner Id", type: "integer" },
        version: { title: "Version", type: "integer" },
        created_at: { title: "Created At", type: "string", format: "date-time" },
      },
    },
  },
  filterable: ["created_at", "title"],
  sortable: ["created_at", "title"],
  default_sort: "-created_at",
  operators: ["eq", "ne", "lt", "lte", "gt", "gte", "in", "contains", "isnull"],
  display: "title",
  searchable: [] as string[],
  relations: {} as Record<string, { field: string; resource: string; path: string; display: string }>,
  permissions: { list: true, create: true, read: true, update: true, delete: true },
};

export const note = (fields: Record<string, unknown> = {}) => ({
  id: 7,
  title: "Buy milk",
  body: null,
  done: false,
  priority: "low",
  owner_id: 1,
  version: 3,
  created_at: "2026-11-25T10:00:00Z",
  ...fields,
});
