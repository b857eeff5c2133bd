import { createContext, useContext, useEffect, useMemo, useState, useSyncExternalStore, type ReactNode } from "react";
import type { RequestOptions } from "../api";
import { DEFAULT_ADMIN_ROLE, Session, type AuthStatus, type User } from "./session";

export interface Auth {
  status: AuthStatus;
  user: User | null;
  /** The app's admin role, from GET /api/meta once signed in. */
  adminRole: string;
  /** Whether the app has a job queue (admins see it), from GET /api/meta. */
  hasJobs: boolean;
  /** Whether users may make API keys, from GET /api/meta. */
  hasApiKeys: boolean;
  /** The signed-in user's address while it is not verified, in an app that verifies
   *  addresses (GET /api/meta, then GET /api/auth/email); else null. */
  unverifiedEmail: string | null;
  login(email: string, password: string): Promise<User>;
  secondStep(challenge: string, code: string, trustDevice: boolean): Promise<User>;
  register(email: string, password: string): Promise<User>;
  logout(): Promise<void>;
  /** Load the user again with a fresh token (after a change the token carries). */
  reload(): Promise<void>;
  /** An API call with the access token (one refresh and one retry on a 401). */
  request<T>(path: string, options?: Omit<RequestOptions, "token">): Promise<T>;
}

const AuthContext = createContext<Auth | null>(null);

/** The app's one session: the access token lives in it, in memory only. */
const defaultSession = new Session();

export function AuthProvider({ children, session = defaultSession }: { children: ReactNode; session?: Session }) {
  const { status, user } = useSyncExternalStore(session.subscribe, session.getSnapshot, session.getSnapshot);

  useEffect(() => {
    // Restore the session after a reload from the refresh cookie (once, even in StrictMode).
    void session.start();
  }, [session]);

  // The API names its admin role once (AuthConfig.admin_role); ask when signed in.
  const [adminRole, setAdminRole] = useState(DEFAULT_ADMIN_ROLE);
  const [hasJobs, setHasJobs] = useState(false);
  const [hasApiKeys, setHasApiKeys] = useState(false);
  const [emailVerification, setEmailVerification] = useState(false);
  const [unverifiedEmail, setUnverifiedEmail] = useState<string | null>(null);
  useEffect(() => {
    if (status !== "signed-in") return;
    let current = true;
    session.request<{ admin_role: string; jobs?: boolean; email_verification?: boolean; api_keys?: boolean }>("/api/meta").then(
      (meta) => {
        if (!current) return;
        setAdminRole(meta.admin_role);
        setHasJobs(meta.jobs === true);
        setHasApiKeys(meta.api_keys === true);
        setEmailVerification(meta.email_verification === true);
      },
      () => undefined, // keep the default: the pages that need more refuse on the server
    );
    return () => {
      current = false;
    };
  }, [session, status]);

  // Asked again whenever the user is loaded again (after opening the link, say).
  useEffect(() => {
    if (status !== "signed-in" || !emailVerification) {
      setUnverifiedEmail(null);
      return;
    }
    let current = true;
    session.request<{ email: string; verified_at: string | null }>("/api/auth/email").then(
      (address) => {
        if (current) setUnverifiedEmail(address.verified_at ? null : address.email);
      },
      () => undefined,
    );
    return () => {
      current = false;
    };
  }, [session, status, emailVerification, user]);

  // The functions keep their identity while the session lives, so effects that
  // depend on `request` do not run again when the user signs in or out.
  const actions = useMemo(
    () => ({
      login: (email: string, password: string) => session.login(email, password),
      secondStep: (challenge: string, code: string, trust: boolean) => session.secondStep(challenge, code, trust),
      register: (email: string, password: string) => session.register(email, password),
      logout: () => session.logout(),
      reload: () => session.reload(),
      request: <T,>(path: string, options?: Omit<RequestOptions, "token">) => session.request<T>(path, options),
    }),
    [session],
  );
  const auth = useMemo<Auth>(
    () => ({ status, user, adminRole, hasJobs, hasApiKeys, unverifiedEmail, ...actions }),
    [status, user, adminRole, hasJobs, hasApiKeys, unverifiedEmail, actions],
  );

  return <AuthContext.Provider value={auth}>{children}</AuthContext.Provider>;
}

export function useAuth(): Auth {
  const auth = useContext(AuthContext);
  if (!auth) throw new Error("useAuth() needs an <AuthProvider> above it");
  return auth;
}
