import { describe, expect, it } from "vitest";
import { ApiError, apiFetch, buildUrl, errorMessage, parseRetryAfter } from "./api";
import { fakeFetch } from "./test/fakeFetch";

describe("apiFetch", () => {
  it("sends JSON with X-Requested-With, and credentials only to the auth routes", async () => {
    const api = fakeFetch({ "POST /api/notes": [{ status: 201, body: { id: 1 } }], "POST /api/auth/login": [{ body: {} }] });
    expect(await apiFetch("/api/notes", { body: { title: "x" }, token: "t" }, api.fetch)).toEqual({ id: 1 });
    await apiFetch("/api/auth/login", { body: {} }, api.fetch);
    const [notes, login] = api.calls;
    expect(notes?.headers).toMatchObject({
      "Content-Type": "application/json",
      "X-Requested-With": "fetch",
      Authorization: "Bearer t",
    });
    expect(notes?.credentials).toBe("same-origin");
    expect(login?.credentials).toBe("include");
    expect(login?.headers["X-Requested-With"]).toBe("fetch");
  });

  it("turns a 422 problem into an ApiError with its field errors", async () => {
    const api = fakeFetch({
      "POST /api/auth/register": [
        {
          status: 422,
          body: {
            title: "Request validation failed",
            status: 422,
            detail: "The request is not valid: body.password.",
            errors: [{ in: "body", field: "password", message: "This password is too common.", type: "value_error" }],
          },
        },
      ],
    });
    const error = (await apiFetch("/api/auth/register", { body: {} }, api.fetch).catch((e: unknown) => e)) as ApiError;
    expect(error).toBeInstanceOf(ApiError);
    expect(error.status).toBe(422);
    expect(error.errors).toHaveLength(1);
    expect(error.fieldError("password")).toBe("This password is too common.");
    expect(error.fieldError("email")).toBeUndefined();
  });

  it("names the field of a 409", async () => {
    const api = fakeFetch({
      "POST /api/auth/register": [{ status: 409, body: { status: 409, detail: "This email is taken.", field: "email" } }],
    });
    const error = (await apiFetch("/api/auth/register", { body: {} }, api.fetch).catch((e: unknown) => e)) as ApiError;
    expect(error.status).toBe(409);
    expect(error.fieldError("email")).toBe("This email is taken.");
  });

  it("reads Retry-After on a 429", async () => {
    const api = fakeFetch({
      "POST /api/auth/login": [{ status: 429, body: { status: 429, detail: "Too many requests; retry in 42 s." }, headers: { "Retry-After": "42" } }],
    });
    const error = (await apiFetch("/api/auth/login", { body: {} }, api.fetch).catch((e: unknown) => e)) as ApiError;
    expect(error.status).toBe(429);
    expect(error.retryAfter).toBe(42);
    expect(errorMessage(error)).toBe("Too many attempts. Try again in 42 seconds.");
  });

  it("reports a network failure as status 0", async () => {
    const error = (await apiFetch("/api/x", {}, () => Promise.reject(new TypeError("Failed to fetch"))).catch(
      (e: unknown) => e,
    )) as ApiError;
    expect(error.status).toBe(0);
  });

  it("returns undefined for a 204", async () => {
    const api = fakeFetch({ "POST /api/auth/logout": [{ status: 204 }] });
    expect(await apiFetch("/api/auth/logout", { method: "POST" }, api.fetch)).toBeUndefined();
  });
});

describe("helpers", () => {
  it("builds query strings without empty values", () => {
    expect(buildUrl("/api/notes", { limit: 20, cursor: null })).toBe("/api/notes?limit=20");
    expect(buildUrl("/api/notes", { limit: 20, cursor: "a b" })).toBe("/api/notes?limit=20&cursor=a+b");
  });

  it("parses Retry-After as seconds or a date", () => {
    expect(parseRetryAfter("5")).toBe(5);
    expect(parseRetryAfter(new Date(10_000).toUTCString(), 0)).toBe(10);
    expect(parseRetryAfter(null)).toBeNull();
  });
});
