// A tiny fetch client for the stackkit API: JSON in and out, problem+json errors
// turned into `ApiError`. It knows nothing of sessions: the caller passes the access
// token (see auth/session.ts, which adds refresh-and-retry on top).

import { plural, t } from "./i18n";

/** One entry of a 422 problem's `errors`. */
export interface FieldError {
  in: string;
  field: string;
  message: string;
  type?: string;
}

/** An RFC 9457 problem as the API sends it. */
export interface Problem {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  errors?: FieldError[];
  [extension: string]: unknown;
}

export class ApiError extends Error {
  readonly status: number;
  readonly title: string;
  readonly detail: string;
  /** Per-field errors of a 422 (empty otherwise). */
  readonly errors: FieldError[];
  /** Seconds to wait before trying again (from `Retry-After`, on 429 and 503). */
  readonly retryAfter: number | null;
  readonly problem: Problem;

  constructor(status: number, problem: Problem, retryAfter: number | null = null) {
    const title = problem.title ?? (status === 0 ? t("Network error") : `HTTP ${status}`);
    const detail = problem.detail ?? title;
    super(detail);
    this.name = "ApiError";
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
    this.retryAfter = retryAfter;
    this.problem = problem;
  }

  /** The message for one field (`email`, `password`...), if the server named it. */
  fieldError(field: string): string | undefined {
    const found = this.errors.find((e) => e.field === field || e.field.endsWith(`.${field}`));
    if (found) return found.message;
    // A 409 names its field as an extension: {"field": "email"}.
    return this.problem.field === field ? this.detail : undefined;
  }
}

export type Query = Record<string, string | number | boolean | null | undefined>;

export interface RequestOptions {
  method?: string;
  /** Sent as JSON (a `Blob`, such as a `File`, as it is); leave out for no body. */
  body?: unknown;
  query?: Query;
  /** The access token, sent as `Authorization: Bearer`. */
  token?: string | null;
  /** Extra request headers, such as `If-Match`. */
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export type FetchFn = (input: string, init: RequestInit) => Promise<Response>;

/** Routes that take the refresh cookie: the only ones fetched with credentials. */
export function isAuthRoute(path: string): boolean {
  return path.startsWith("/api/auth/");
}

export function buildUrl(path: string, query?: Query): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
  }
  const search = params.toString();
  return search ? `${path}${path.includes("?") ? "&" : "?"}${search}` : path;
}

/** Seconds from a `Retry-After` header (delta-seconds or an HTTP date). */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | null {
  if (!value) return null;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? null : Math.max(0, Math.ceil((date - now) / 1000));
}

async function readBody(response: Response): Promise<unknown> {
  if (response.status === 204 || response.status === 205) return undefined;
  const text = await response.text();
  if (!text) return undefined;
  const type = response.headers.get("Content-Type") ?? "";
  if (type.includes("json")) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return undefined;
    }
  }
  return text;
}

/** Fetch `path` and return its JSON; throw `ApiError` for any answer that is not 2xx. */
export async function apiFetch<T>(
  path: string,
  options: RequestOptions = {},
  fetchFn: FetchFn = (input, init) => fetch(input, init),
): Promise<T> {
  const headers: Record<string, string> = {
    Accept: "application/json, application/problem+json",
    // The API accepts a cookie-based refresh or logout only from the app's own pages:
    // a same-origin Origin, or this header (which a cross-site form cannot send).
    "X-Requested-With": "fetch",
    ...options.headers,
  };
  if (options.token) headers.Authorization = `Bearer ${options.token}`; // i18n: not text
  const init: RequestInit = {
    method: options.method ?? (options.body === undefined ? "GET" : "POST"),
    headers,
    credentials: isAuthRoute(path) ? "include" : "same-origin",
    cache: "no-store",
  };
  if (options.signal) init.signal = options.signal;
  if (options.body instanceof Blob) {
    init.body = options.body;
  } else if (options.body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(options.body);
  }

  let response: Response;
  try {
    response = await fetchFn(buildUrl(path, options.query), init);
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    throw new ApiError(0, { detail: t("The server could not be reached.") });
  }
  const body = await readBody(response);
  if (!response.ok) {
    const problem: Problem =
      body && typeof body === "object" ? (body as Problem) : { detail: response.statusText || undefined };
    throw new ApiError(response.status, problem, parseRetryAfter(response.headers.get("Retry-After")));
  }
  return body as T;
}

/** A user-facing sentence for an error of any kind. */
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) {
    const wait = error.retryAfter ?? 60;
    const later = plural(wait, { one: "Try again in {count} second.", other: "Try again in {count} seconds." });
    if (error.status === 429) return `${t("Too many attempts.")} ${later}`;
    if (error.status === 503 && error.retryAfter !== null) return `${t("The service is busy.")} ${later}`;
    if (error.status === 412) return t("Someone changed this since you opened it. Reload to see their version.");
    return error.detail;
  }
  return error instanceof Error ? error.message : t("Something went wrong.");
}
