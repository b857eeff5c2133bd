import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../api";
import { fakeFetch, me, tokens, unauthorized, type Call } from "../test/fakeFetch";
import { refreshDelay, Session } from "./session";

const bearer = (call: Call | undefined) => call?.headers.Authorization;

let session: Session | undefined;

beforeEach(() => {
  vi.useFakeTimers();
  localStorage.clear();
  sessionStorage.clear();
});

afterEach(() => {
  session?.dispose();
  session = undefined;
  vi.useRealTimers();
});

describe("refreshDelay", () => {
  it("refreshes a minute before expiry, or at half-life for short tokens", () => {
    expect(refreshDelay(900)).toBe(840_000);
    expect(refreshDelay(60)).toBe(30_000);
    expect(refreshDelay(0)).toBe(0);
  });
});

describe("Session.start", () => {
  it("restores the session from the cookie: refresh without a body, then /me", async () => {
    const api = fakeFetch({ "POST /api/auth/refresh": [tokens(1)], "GET /api/auth/me": [me] });
    session = new Session({ fetch: api.fetch });
    expect(session.status).toBe("loading");
    await session.start();

    const [refresh, meCall] = api.calls;
    expect(refresh?.body).toBeUndefined();
    expect(refresh?.credentials).toBe("include");
    expect(refresh?.headers["X-Requested-With"]).toBe("fetch");
    expect(bearer(refresh)).toBeUndefined();
    expect(bearer(meCall)).toBe("Bearer access-1");
    expect(session.status).toBe("signed-in");
    expect(session.user?.email).toBe("ada@example.com");
  });

  it("is signed out when there is no cookie, and asks for no user", async () => {
    const api = fakeFetch({ "POST /api/auth/refresh": [unauthorized] });
    session = new Session({ fetch: api.fetch });
    await session.start();
    expect(session.status).toBe("signed-out");
    expect(api.calls).toHaveLength(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("runs once even when called twice (StrictMode effects)", async () => {
    const api = fakeFetch({ "POST /api/auth/refresh": [tokens(1)], "GET /api/auth/me": [me] });
    session = new Session({ fetch: api.fetch });
    await Promise.all([session.start(), session.start()]);
    expect(api.count("POST /api/auth/refresh")).toBe(1);
  });
});

describe("silent refresh", () => {
  it("is scheduled shortly before expires_in runs out, and the new token is used", async () => {
    const api = fakeFetch({
      "POST /api/auth/login": [tokens(1, 900)],
      "GET /api/auth/me": [me],
      "POST /api/auth/refresh": [tokens(2, 900), tokens(3, 900)],
      "GET /api/notes": [{ body: { items: [], next_cursor: null } }],
    });
    session = new Session({ fetch: api.fetch });
    await session.login("ada@example.com", "correct horse");

    await vi.advanceTimersByTimeAsync(839_999);
    expect(api.count("POST /api/auth/refresh")).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(api.count("POST /api/auth/refresh")).toBe(1);
    expect(session.status).toBe("signed-in");

    await session.request("/api/notes");
    expect(bearer(api.calls.at(-1))).toBe("Bearer access-2");

    // ... and the next one is scheduled from the new token's lifetime.
    await vi.advanceTimersByTimeAsync(840_000);
    expect(api.count("POST /api/auth/refresh")).toBe(2);
  });

  it("signs out when the server refuses the scheduled refresh", async () => {
    const api = fakeFetch({
      "POST /api/auth/login": [tokens(1, 900)],
      "GET /api/auth/me": [me],
      "POST /api/auth/refresh": [unauthorized],
    });
    session = new Session({ fetch: api.fetch });
    await session.login("ada@example.com", "pw");
    const seen: string[] = [];
    session.subscribe(() => seen.push(session!.status));

    await vi.advanceTimersByTimeAsync(840_000);
    expect(session.status).toBe("signed-out");
    expect(session.user).toBeNull();
    expect(session.hasToken).toBe(false);
    expect(seen).toEqual(["signed-out"]);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("keeps the session and tries again later when the network fails", async () => {
    let offline = true;
    const api = fakeFetch({
      "POST /api/auth/login": [tokens(1, 900)],
      "GET /api/auth/me": [me],
      "POST /api/auth/refresh": () => {
        if (offline) throw new TypeError("Failed to fetch");
        return tokens(2, 900);
      },
    });
    session = new Session({ fetch: api.fetch, retryDelay: 30_000 });
    await session.login("ada@example.com", "pw");
    await vi.advanceTimersByTimeAsync(840_000);
    expect(api.count("POST /api/auth/refresh")).toBe(1);
    expect(session.status).toBe("signed-in");
    offline = false;
    await vi.advanceTimersByTimeAsync(30_000);
    expect(api.count("POST /api/auth/refresh")).toBe(2);
    expect(session.hasToken).toBe(true);
  });
});

describe("a 401 from the API", () => {
  async function signedIn(routes: Parameters<typeof fakeFetch>[0]) {
    const api = fakeFetch({ "POST /api/auth/login": [tokens(1)], "GET /api/auth/me": [me], ...routes });
    session = new Session({ fetch: api.fetch });
    await session.login("ada@example.com", "pw");
    return api;
  }

  it("leads to exactly one refresh and one retry, with the new token", async () => {
    const api = await signedIn({
      "GET /api/notes": [unauthorized, { body: { items: [{ id: 1 }], next_cursor: null } }],
      "POST /api/auth/refresh": [tokens(2)],
    });
    const page = await session!.request<{ items: unknown[] }>("/api/notes", { query: { limit: 20 } });
    expect(page.items).toHaveLength(1);
    expect(api.count("POST /api/auth/refresh")).toBe(1);
    expect(api.count("GET /api/notes")).toBe(2);
    const notes = api.calls.filter((c) => c.url.startsWith("/api/notes"));
    expect(notes.map(bearer)).toEqual(["Bearer access-1", "Bearer access-2"]);
    expect(notes[1]?.url).toBe("/api/notes?limit=20");
    expect(notes[1]?.credentials).not.toBe("include");
  });

  it("does not refresh or retry a second time when the retry fails too", async () => {
    const api = await signedIn({
      "GET /api/notes": [unauthorized, unauthorized],
      "POST /api/auth/refresh": [tokens(2)],
    });
    const error = await session!.request("/api/notes").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(401);
    expect(api.count("POST /api/auth/refresh")).toBe(1);
    expect(api.count("GET /api/notes")).toBe(2);
  });

  it("shares one refresh between calls that fail at the same time", async () => {
    const api = await signedIn({
      "GET /api/a": [unauthorized, { body: "a" }],
      "GET /api/b": [unauthorized, { body: "b" }],
      "POST /api/auth/refresh": [tokens(2)],
    });
    const results = await Promise.all([session!.request("/api/a"), session!.request("/api/b")]);
    expect(results).toEqual(["a", "b"]);
    expect(api.count("POST /api/auth/refresh")).toBe(1);
  });

  it("signs out when the refresh fails, and the call fails with the 401", async () => {
    const api = await signedIn({
      "GET /api/notes": [unauthorized],
      "POST /api/auth/refresh": [{ status: 401, body: { status: 401, detail: "The session has ended." } }],
    });
    const error = await session!.request("/api/notes").catch((e: unknown) => e);
    expect((error as ApiError).status).toBe(401);
    expect(api.count("GET /api/notes")).toBe(1);
    expect(session!.status).toBe("signed-out");
    expect(session!.hasToken).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("does not refresh for other errors", async () => {
    const api = await signedIn({ "GET /api/notes": [{ status: 403, body: { status: 403, detail: "Forbidden." } }] });
    await expect(session!.request("/api/notes")).rejects.toMatchObject({ status: 403 });
    expect(api.count("POST /api/auth/refresh")).toBe(0);
  });
});

describe("logout", () => {
  it("ends the server session with the cookie and the token, then clears the state", async () => {
    const api = fakeFetch({
      "POST /api/auth/login": [tokens(1)],
      "GET /api/auth/me": [me],
      "POST /api/auth/logout": [{ status: 204 }],
    });
    session = new Session({ fetch: api.fetch });
    await session.login("ada@example.com", "pw");
    await session.logout();
    const call = api.calls.at(-1);
    expect(call?.url).toBe("/api/auth/logout");
    expect(call?.credentials).toBe("include");
    expect(call?.headers["X-Requested-With"]).toBe("fetch");
    expect(bearer(call)).toBe("Bearer access-1");
    expect(session.status).toBe("signed-out");
    expect(vi.getTimerCount()).toBe(0);
  });

  it("signs out even when the server cannot be reached", async () => {
    const api = fakeFetch({
      "POST /api/auth/login": [tokens(1)],
      "GET /api/auth/me": [me],
      "POST /api/auth/logout": () => {
        throw new TypeError("Failed to fetch");
      },
    });
    session = new Session({ fetch: api.fetch });
    await session.login("ada@example.com", "pw");
    await session.logout();
    expect(session.status).toBe("signed-out");
  });
});

describe("register", () => {
  it("creates the account, then signs in", async () => {
    const api = fakeFetch({
      "POST /api/auth/register": [{ status: 201, body: me.body }],
      "POST /api/auth/login": [tokens(1)],
      "GET /api/auth/me": [me],
    });
    session = new Session({ fetch: api.fetch });
    await session.register("ada@example.com", "correct horse");
    expect(api.calls.map((c) => c.url)).toEqual(["/api/auth/register", "/api/auth/login", "/api/auth/me"]);
    expect(api.calls[0]?.body).toEqual({ email: "ada@example.com", password: "correct horse" });
    expect(session.status).toBe("signed-in");
  });
});

describe("tokens never touch web storage", () => {
  it("keeps access and refresh tokens out of localStorage, sessionStorage and script cookies", async () => {
    const setItem = vi.spyOn(Storage.prototype, "setItem");
    const api = fakeFetch({
      "POST /api/auth/refresh": [tokens(1), tokens(2), tokens(3)],
      "POST /api/auth/login": [tokens(4)],
      "GET /api/auth/me": [me, me],
      "GET /api/notes": [unauthorized, { body: { items: [], next_cursor: null } }],
      "POST /api/auth/logout": [{ status: 204 }],
    });
    session = new Session({ fetch: api.fetch });
    await session.start();
    await vi.advanceTimersByTimeAsync(840_000);
    await session.request("/api/notes");
    await session.logout();
    await session.login("ada@example.com", "pw");

    expect(setItem).not.toHaveBeenCalled();
    expect(localStorage.length).toBe(0);
    expect(sessionStorage.length).toBe(0);
    expect(document.cookie).toBe("");
    // Nor does the state React sees hold them.
    expect(JSON.stringify(session.getSnapshot())).not.toMatch(/access-|refresh-/);
  });
});
