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
    const route = routes[key];
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
