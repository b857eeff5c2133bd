import { useState } from "react";
import { Link, useNavigate } from "react-router";
import { ApiError, buildUrl, errorMessage } from "../api";
import { useAuth } from "../auth/AuthContext";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { NewPasswordField } from "../components/AccountFields";
import { Field } from "../components/Field";
import { Alert, ErrorBox, Loading, Notice, Pending, buttonClass, secondaryButtonClass } from "../components/Status";
import { AuditTable, type AuditPage } from "../components/AuditEvents";
import { describeAgent } from "../components/devices";
import { Pager, useCursorStack } from "../components/Pager";
import { useApi, useSubmit } from "../useApi";

/** One entry of GET /api/auth/sessions. */
export interface SessionInfo {
  id: string;
  created_at: string;
  expires_at: string;
  last_refreshed_at: string;
  user_agent?: string | null;
  address?: string | null;
  current: boolean;
}

const when = (iso: string) => new Date(iso).toLocaleString();

export default function Profile() {
  const { user } = useAuth();
  return (
    <div className="space-y-10">
      <div>
        <h1 className="text-2xl font-semibold tracking-tight">Profile</h1>
        {user && <p className="mt-1 text-sm text-slate-600">Signed in as {user.email}.</p>}
      </div>
      <Sessions />
      <TwoFactorLink />
      <EmailChange />
      <PasswordChange />
      <RecentActivity />
    </div>
  );
}

function Sessions() {
  const { request, logout } = useAuth();
  const navigate = useNavigate();
  const sessions = useApi<SessionInfo[]>("/api/auth/sessions");
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [confirmingAll, setConfirmingAll] = useState(false);

  async function revoke(session: SessionInfo) {
    setError(null);
    try {
      await request<void>(`/api/auth/sessions/${encodeURIComponent(session.id)}`, { method: "DELETE" });
      setNotice(`Signed out ${describeAgent(session.user_agent)}.`);
      sessions.reload();
    } catch (caught) {
      setError(errorMessage(caught));
    }
  }

  async function revokeAll() {
    try {
      await request<void>("/api/auth/sessions", { method: "DELETE" });
    } catch (caught) {
      setError(errorMessage(caught));
      setConfirmingAll(false);
      return;
    }
    await logout();
    navigate("/login", { replace: true, state: null });
  }

  return (
    <section aria-labelledby="sessions-heading">
      <h2 id="sessions-heading" className="text-lg font-medium">
        Sessions
      </h2>
      <p className="mt-1 text-sm text-slate-600">Where you are signed in. Revoke a session you do not recognise.</p>
      {notice && (
        <Notice className="mt-3">{notice}</Notice>
      )}
      {error && (
        <Alert className="mt-3">{error}</Alert>
      )}
      {sessions.state === "loading" && <Loading />}
      {sessions.state === "error" && (
        <div className="mt-3">
          <ErrorBox onRetry={sessions.reload}>Could not load your sessions: {errorMessage(sessions.error)}</ErrorBox>
        </div>
      )}
      {sessions.state === "done" && (
        <ul aria-label="Sessions" className="mt-4 divide-y divide-slate-100 rounded-lg bg-white shadow-sm ring-1 ring-slate-200">
          {sessions.data.map((session) => (
            <li key={session.id} className="flex flex-wrap items-center justify-between gap-3 px-4 py-3">
              <div className="text-sm">
                <p className="font-medium text-slate-900">
                  {describeAgent(session.user_agent)}
                  {session.current && (
                    <span className="ml-2 rounded-full bg-emerald-50 px-2 py-0.5 text-xs font-normal text-emerald-700">This device</span>
                  )}
                </p>
                <p className="text-slate-500">
                  {session.address ? `${session.address} · ` : ""}signed in {when(session.created_at)} · active {when(session.last_refreshed_at)}
                </p>
              </div>
              {!session.current && (
                <button
                  type="button"
                  onClick={() => void revoke(session)}
                  aria-label={`Revoke ${describeAgent(session.user_agent)}, signed in ${when(session.created_at)}`}
                  className={secondaryButtonClass}
                >
                  Revoke
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      <button type="button" onClick={() => setConfirmingAll(true)} className={`${secondaryButtonClass} mt-4`}>
        Log out everywhere
      </button>
      {confirmingAll && (
        <ConfirmDialog
          title="Log out everywhere?"
          message="Every session ends, this one too: you will sign in again on each device."
          confirmLabel="Log out everywhere"
          onConfirm={() => void revokeAll()}
          onCancel={() => setConfirmingAll(false)}
        />
      )}
    </section>
  );
}

function TwoFactorLink() {
  const status = useApi<{ enabled: boolean }>("/api/auth/two-factor");
  if (status.state !== "done") return null; // an app without it answers 404: no section
  return (
    <section aria-labelledby="two-factor-heading">
      <h2 id="two-factor-heading" className="text-lg font-medium">
        Two-factor sign-in
      </h2>
      <p className="mt-1 text-sm text-slate-600">
        {status.data.enabled ? "On: signing in asks for a code from your authenticator app." : "Off: your password alone signs you in."}{" "}
        <Link to="/two-factor" className="font-medium text-indigo-600 hover:text-indigo-500">
          {status.data.enabled ? "Manage it" : "Turn it on"}
        </Link>
      </p>
    </section>
  );
}

function EmailChange() {
  const { user, request } = useAuth();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [sentTo, setSentTo] = useState<string | null>(null);
  const { busy, error, onSubmit } = useSubmit(async () => {
    await request<void>("/api/auth/email", { method: "POST", body: { new_email: email, password } });
    setSentTo(email);
    setEmail("");
    setPassword("");
  });

  const apiError = error instanceof ApiError ? error : null;
  const emailError = apiError?.fieldError("new_email");
  const passwordError = apiError?.fieldError("password");
  const formError = error && !emailError && !passwordError ? errorMessage(error) : null;

  return (
    <section aria-labelledby="email-heading">
      <h2 id="email-heading" className="text-lg font-medium">
        Change email
      </h2>
      <p className="mt-1 text-sm text-slate-600">
        Your address is {user?.email}. We send a link to the new one: the change is made when you open it.
      </p>
      <form onSubmit={onSubmit} className="mt-4 max-w-sm space-y-4 rounded-lg bg-white p-6 shadow-sm ring-1 ring-slate-200">
        {sentTo && <Notice>We sent a link to {sentTo}. Open it to confirm the change.</Notice>}
        {formError && <Alert>{formError}</Alert>}
        <Field
          label="New email"
          name="new_email"
          type="email"
          autoComplete="email"
          required
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          error={emailError}
        />
        <Field
          label="Password"
          name="email_password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          error={passwordError}
        />
        <button type="submit" disabled={busy} className={buttonClass}>
          {busy ? "Sending…" : "Change email"}
        </button>
      </form>
    </section>
  );
}

function PasswordChange() {
  const { request } = useAuth();
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const { busy, error, done, onSubmit } = useSubmit(async () => {
    await request<void>("/api/auth/password", { method: "POST", body: { current_password: current, new_password: next } });
    setCurrent("");
    setNext("");
  });

  const apiError = error instanceof ApiError ? error : null;
  const currentError = apiError?.fieldError("current_password");
  const nextError = apiError?.fieldError("new_password");
  const formError = error && !currentError && !nextError ? errorMessage(error) : null;

  return (
    <section aria-labelledby="password-heading">
      <h2 id="password-heading" className="text-lg font-medium">
        Change password
      </h2>
      <form onSubmit={onSubmit} className="mt-4 max-w-sm space-y-4 rounded-lg bg-white p-6 shadow-sm ring-1 ring-slate-200">
        {done && (
          <Notice>Password changed. Your other sessions have ended.</Notice>
        )}
        {formError && (
          <Alert>{formError}</Alert>
        )}
        <Field
          label="Current password"
          name="current_password"
          type="password"
          autoComplete="current-password"
          required
          value={current}
          onChange={(e) => setCurrent(e.target.value)}
          error={currentError}
        />
        <NewPasswordField value={next} onChange={setNext} error={nextError} />
        <button type="submit" disabled={busy} className={buttonClass}>
          {busy ? "Changing…" : "Change password"}
        </button>
      </form>
    </section>
  );
}

function RecentActivity() {
  const pages = useCursorStack("");
  const page = useApi<AuditPage>(buildUrl("/api/auth/audit", { limit: 10, cursor: pages.cursor }));
  return (
    <section aria-labelledby="activity-heading">
      <h2 id="activity-heading" className="text-lg font-medium">
        Recent activity
      </h2>
      <p className="mt-1 text-sm text-slate-600">Sign-ins, password changes and other security events of your account.</p>
      <Pending value={page} what="your recent activity" />
      {page.state === "done" && page.data.items.length === 0 && <p className="mt-4 text-sm text-slate-600">Nothing yet.</p>}
      {page.state === "done" && page.data.items.length > 0 && <AuditTable events={page.data.items} caption="Recent activity" />}
      <Pager pages={pages} nextCursor={page.state === "done" ? page.data.next_cursor : null} loading={page.state === "loading"} />
    </section>
  );
}
