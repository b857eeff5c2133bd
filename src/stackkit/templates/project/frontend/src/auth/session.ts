// The browser session, without React: the access token lives in this object only
// (never in localStorage, sessionStorage or a readable cookie); the refresh token lives
// in the httpOnly cookie the API sets on /api/auth, which script never sees.
//
// - start(): restore a session after a reload by spending the cookie at /api/auth/refresh.
// - a silent refresh is scheduled shortly before the access token expires.
// - request(): an API call with the token; on a 401 it refreshes once and retries once.
// - a refresh the server refuses signs the user out.

import { ApiError, apiFetch, type FetchFn, type RequestOptions } from "../api";
import { t } from "../i18n";

export type AuthStatus = "loading" | "signed-in" | "signed-out";

export interface User {
  id: number | string;
  email: string;
  roles?: string[];
  [field: string]: unknown;
}

/** The admin role until GET /api/meta names the app's (`AuthConfig.admin_role`). */
export const DEFAULT_ADMIN_ROLE = "admin";

/** Whether `user` holds the app's admin role, which sees user management. */
export function isAdmin(user: User | null, adminRole: string): boolean {
  return Boolean(user?.roles?.includes(adminRole));
}

/** What /api/auth/login and /api/auth/refresh answer. */
export interface TokenPair {
  access_token: string;
  token_type: string;
  expires_in: number;
  refresh_token?: string;
}

export interface SessionSnapshot {
  status: AuthStatus;
  user: User | null;
}

export interface SessionOptions {
  fetch?: FetchFn;
  /** How long before the token's expiry to refresh it, in seconds (at most half its life). */
  refreshLeeway?: number;
  /** Wait before trying again after a refresh that failed for want of a network, in ms. */
  retryDelay?: number;
}

/** Milliseconds from receiving a token valid `expiresIn` seconds to refreshing it. */
export function refreshDelay(expiresIn: number, leeway = 60): number {
  const seconds = Math.max(expiresIn - leeway, expiresIn / 2, 0);
  return Math.round(seconds * 1000);
}

/** A refresh answer that means the session is over (not a network or server hiccup). */
function refused(error: unknown): boolean {
  return error instanceof ApiError && error.status >= 400 && error.status < 500 && error.status !== 429;
}

/** The 403 of a sign-in or route that needs a verified email address. */
export function isUnverified(error: unknown): boolean {
  return error instanceof ApiError && error.status === 403 && error.problem.code === "email_not_verified";
}

/** The password was right and the account asks for a code: `secondStep` with this challenge. */
export class SecondStepNeeded extends Error {
  readonly challenge: string;

  constructor(challenge: string) {
    super(t("Enter the code of your authenticator app."));
    this.name = "SecondStepNeeded";
    this.challenge = challenge;
  }
}

/** Registration went through, but the account is not signed in: the next step is in an email. */
export class CheckYourEmail extends Error {
  readonly email: string;

  constructor(email: string) {
    super(t("Check your email: we sent a message to {email}. Follow it to finish creating your account.", { email }));
    this.name = "CheckYourEmail";
    this.email = email;
  }
}

type Listener = () => void;

export class Session {
  private accessToken: string | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private refreshing: Promise<boolean> | null = null;
  private starting: Promise<void> | null = null;
  private snapshot: SessionSnapshot = { status: "loading", user: null };
  private readonly listeners = new Set<Listener>();
  private readonly fetchFn: FetchFn;
  private readonly leeway: number;
  private readonly retryDelay: number;
  /** Bumped whenever the session ends, so that late answers of an old one are ignored. */
  private epoch = 0;

  constructor(options: SessionOptions = {}) {
    this.fetchFn = options.fetch ?? ((input, init) => fetch(input, init));
    this.leeway = options.refreshLeeway ?? 60;
    this.retryDelay = options.retryDelay ?? 30_000;
  }

  // --- state for React (useSyncExternalStore) ---------------------------------------

  subscribe = (listener: Listener): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  getSnapshot = (): SessionSnapshot => this.snapshot;

  get status(): AuthStatus {
    return this.snapshot.status;
  }

  get user(): User | null {
    return this.snapshot.user;
  }

  private set(next: SessionSnapshot): void {
    this.snapshot = next;
    for (const listener of this.listeners) listener();
  }

  // --- signing in and out ---------------------------------------------------------

  /** Restore the session from the refresh cookie, once (later calls share the first). */
  start(): Promise<void> {
    this.starting ??= (async () => {
      const ok = await this.refresh();
      if (ok) await this.loadUser();
    })();
    return this.starting;
  }

  /** Sign in; throws `SecondStepNeeded` for an account with two-factor sign-in. */
  async login(email: string, password: string): Promise<User> {
    const answer = await apiFetch<TokenPair | { challenge: string }>(
      "/api/auth/login",
      { method: "POST", body: { email, password } },
      this.fetchFn,
    );
    if ("challenge" in answer) throw new SecondStepNeeded(answer.challenge);
    this.accept(answer);
    return this.loadUser();
  }

  /** The sign-in's second step: the app's code (or a recovery code) for `challenge`. */
  async secondStep(challenge: string, code: string, trustDevice: boolean): Promise<User> {
    const body = { challenge, code, trust_device: trustDevice };
    this.accept(await apiFetch<TokenPair>("/api/auth/login/two-factor", { method: "POST", body }, this.fetchFn));
    return this.loadUser();
  }

  /** Create the account, then sign in with it. With email verification on (a 202 that
   *  says nothing of the email), a sign-in that fails means: check your email. */
  async register(email: string, password: string): Promise<User> {
    const created = await apiFetch<User | null>("/api/auth/register", { method: "POST", body: { email, password } }, this.fetchFn);
    if (created) return this.login(email, password);
    try {
      return await this.login(email, password);
    } catch (error) {
      if (error instanceof ApiError && (error.status === 401 || isUnverified(error))) throw new CheckYourEmail(email);
      throw error;
    }
  }

  /** Load the user again (after their email was verified, say), with a fresh token. */
  async reload(): Promise<void> {
    if (this.status !== "signed-in") return;
    if (await this.refresh()) await this.loadUser();
  }

  /** End the session on the server (token and cookie), then forget it here. */
  async logout(): Promise<void> {
    const token = this.accessToken;
    this.clear();
    try {
      await apiFetch<void>("/api/auth/logout", { method: "POST", token }, this.fetchFn);
    } catch {
      // Signed out here whatever the server says; its session expires on its own.
    }
  }

  // --- API calls --------------------------------------------------------------------

  /** An API call with the access token; a 401 leads to one refresh and one retry. */
  async request<T>(path: string, options: Omit<RequestOptions, "token"> = {}): Promise<T> {
    const token = this.accessToken;
    try {
      return await apiFetch<T>(path, { ...options, token }, this.fetchFn);
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 401) throw error;
      // Another call may have refreshed meanwhile: then only retry with its token.
      const renewed = this.accessToken !== null && this.accessToken !== token;
      if (!renewed && !(await this.refresh())) throw error;
      return apiFetch<T>(path, { ...options, token: this.accessToken }, this.fetchFn);
    }
  }

  /**
   * Spend the refresh cookie for a new access token. Concurrent callers share one
   * request. Returns whether the session is alive; a refusal signs out.
   */
  refresh(): Promise<boolean> {
    this.refreshing ??= this.doRefresh().finally(() => {
      this.refreshing = null;
    });
    return this.refreshing;
  }

  private async doRefresh(): Promise<boolean> {
    const epoch = this.epoch;
    try {
      // No body: the refresh token travels in the httpOnly cookie.
      const pair = await apiFetch<TokenPair>("/api/auth/refresh", { method: "POST" }, this.fetchFn);
      if (epoch !== this.epoch) return false; // signed out while it was in flight
      this.accept(pair);
      return true;
    } catch (error) {
      if (epoch !== this.epoch) return false;
      if (refused(error) || this.accessToken === null) {
        this.clear();
      } else {
        // Offline or the server is busy: keep the token while it lasts, try again soon.
        this.schedule(this.retryDelay);
      }
      return false;
    }
  }

  private async loadUser(): Promise<User> {
    const epoch = this.epoch;
    try {
      const user = await this.request<User>("/api/auth/me");
      if (epoch === this.epoch && this.accessToken !== null) this.set({ status: "signed-in", user });
      return user;
    } catch (error) {
      if (epoch === this.epoch) this.clear();
      throw error;
    }
  }

  /** Keep the access token (in memory only) and schedule its silent refresh. */
  private accept(pair: TokenPair): void {
    // `pair.refresh_token` is for API clients: a browser keeps it in the cookie only.
    this.accessToken = pair.access_token;
    this.schedule(refreshDelay(pair.expires_in, this.leeway));
  }

  private schedule(delay: number): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.refresh();
    }, delay);
  }

  /** Forget the token and the user; signed out. */
  private clear(): void {
    this.epoch += 1;
    this.accessToken = null;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.set({ status: "signed-out", user: null });
  }

  /** Stop the refresh timer (tests, hot reload). */
  dispose(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.listeners.clear();
  }

  /** Whether an access token is held (for tests; the token itself never leaves). */
  get hasToken(): boolean {
    return this.accessToken !== null;
  }
}
