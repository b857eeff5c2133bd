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
import { formatDateTime, t } from "../i18n";
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

export default function Profile() {
  const { user } = useAuth();
  return (
    <div className="space-y-10">
      <div>
        <h1 className="text-2xl font-semibold tracking-tight">{t("Profile")}</h1>
        {user && <p className="mt-1 text-sm text-slate-600">{t("Signed in as {email}.", { email: user.email })}</p>}
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
      setNotice(t("Signed out {device}.", { device: describeAgent(session.user_agent) }));
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
        {t("Sessions")}
      </h2>
      <p className="mt-1 text-sm text-slate-600">{t("Where you are signed in. Revoke a session you do not recognise.")}</p>
      {notice && (
        <Notice className="mt-3">{notice}</Notice>
      )}
      {error && (
        <Alert className="mt-3">{error}</Alert>
      )}
      {sessions.state === "loading" && <Loading />}
      {sessions.state === "error" && (
        <div className="mt-3">
          <ErrorBox onRetry={sessions.reload}>{t("Could not load your sessions: {error}", { error: errorMessage(sessions.error) })}</ErrorBox>
        </div>
      )}
      {sessions.state === "done" && (
        <ul aria-label={t("Sessions")} className="mt-4 divide-y divide-slate-100 rounded-lg bg-white shadow-sm ring-1 ring-slate-200">
          {sessions.data.map((session) => (
            <li key={session.id} className="flex flex-wrap items-center justify-between gap-3 px-4 py-3">
              <div className="text-sm">
                <p className="font-medium text-slate-900">
                  {describeAgent(session.user_agent)}
                  {session.current && (
                    <span className="ml-2 rounded-full bg-emerald-50 px-2 py-0.5 text-xs font-normal text-emerald-700">{t("This device")}</span>
                  )}
                </p>
                <p className="text-slate-500">
                  {session.address ? `${session.address} · ` : ""}
                  {t("signed in {signedIn} · active {active}", {
                    signedIn: formatDateTime(session.created_at),
                    active: formatDateTime(session.last_refreshed_at),
                  })}
                </p>
              </div>
              {!session.current && (
                <button
                  type="button"
                  onClick={() => void revoke(session)}
                  aria-label={t("Revoke {device}, signed in {signedIn}", {
                    device: describeAgent(session.user_agent),
                    signedIn: formatDateTime(session.created_at),
                  })}
                  className={secondaryButtonClass}
                >
                  {t("Revoke")}
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      <button type="button" onClick={() => setConfirmingAll(true)} className={`${secondaryButtonClass} mt-4`}>
        {t("Log out everywhere")}
      </button>
      {confirmingAll && (
        <ConfirmDialog
          title={t("Log out everywhere?")}
          message={t("Every session ends, this one too: you will sign in again on each device.")}
          confirmLabel={t("Log out everywhere")}
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
        {t("Two-factor sign-in")}
      </h2>
      <p className="mt-1 text-sm text-slate-600">
        {status.data.enabled ? t("On: signing in asks for a code from your authenticator app.") : t("Off: your password alone signs you in.")}{" "}
        <Link to="/two-factor" className="font-medium text-indigo-600 hover:text-indigo-500">
          {status.data.enabled ? t("Manage it") : t("Turn it on")}
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
        {t("Change email")}
      </h2>
      <p className="mt-1 text-sm text-slate-600">
        {t("Your address is {email}. We send a link to the new one: the change is made when you open it.", { email: user?.email ?? "" })}
      </p>
      <form onSubmit={onSubmit} className="mt-4 max-w-sm space-y-4 rounded-lg bg-white p-6 shadow-sm ring-1 ring-slate-200">
        {sentTo && <Notice>{t("We sent a link to {email}. Open it to confirm the change.", { email: sentTo })}</Notice>}
        {formError && <Alert>{formError}</Alert>}
        <Field
          label={t("New email")}
          name="new_email"
          type="email"
          autoComplete="email"
          required
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          error={emailError}
        />
        <Field
          label={t("Password")}
          name="email_password"
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          error={passwordError}
        />
        <button type="submit" disabled={busy} className={buttonClass}>
          {busy ? t("Sending…") : t("Change email")}
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
        {t("Change password")}
      </h2>
      <form onSubmit={onSubmit} className="mt-4 max-w-sm space-y-4 rounded-lg bg-white p-6 shadow-sm ring-1 ring-slate-200">
        {done && (
          <Notice>{t("Password changed. Your other sessions have ended.")}</Notice>
        )}
        {formError && (
          <Alert>{formError}</Alert>
        )}
        <Field
          label={t("Current password")}
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
          {busy ? t("Changing…") : t("Change password")}
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
        {t("Recent activity")}
      </h2>
      <p className="mt-1 text-sm text-slate-600">{t("Sign-ins, password changes and other security events of your account.")}</p>
      <Pending value={page} what={t("your recent activity")} />
      {page.state === "done" && page.data.items.length === 0 && <p className="mt-4 text-sm text-slate-600">{t("Nothing yet.")}</p>}
      {page.state === "done" && page.data.items.length > 0 && <AuditTable events={page.data.items} caption={t("Recent activity")} />}
      <Pager pages={pages} nextCursor={page.state === "done" ? page.data.next_cursor : null} loading={page.state === "loading"} />
    </section>
  );
}
