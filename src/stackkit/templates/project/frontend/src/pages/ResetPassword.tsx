import { useEffect, useState } from "react";
import { Link } from "react-router";
import { ApiError, errorMessage } from "../api";
import { useAuth } from "../auth/AuthContext";
import { NewPasswordField } from "../components/AccountFields";
import { Alert, buttonClass } from "../components/Status";
import { t } from "../i18n";
import { useSubmit } from "../useApi";

/** The token of a reset link (`/reset-password#token=...`): in the fragment, so no server logs it. */
export function tokenFromHash(hash: string): string {
  return new URLSearchParams(hash.replace(/^#/, "")).get("token") ?? "";
}

export default function ResetPassword() {
  const { request } = useAuth();
  const [token] = useState(() => tokenFromHash(window.location.hash));
  useEffect(() => {
    // Kept in memory only: out of the address bar and the history.
    if (window.location.hash) window.history.replaceState(window.history.state, "", window.location.pathname);
  }, []);
  const [password, setPassword] = useState("");
  const { busy, error, done, onSubmit } = useSubmit(() =>
    request<void>("/api/auth/password-reset/confirm", { method: "POST", body: { token, new_password: password } }),
  );

  const passwordError = error instanceof ApiError ? error.fieldError("new_password") : undefined;
  const signIn = (
    <Link to="/login" className="font-medium text-indigo-600 hover:text-indigo-500">
      {t("Sign in with the new password")}
    </Link>
  );
  const askAgain = (
    <Link to="/forgot-password" className="font-medium text-indigo-600 hover:text-indigo-500">
      {t("Ask for a new link")}
    </Link>
  );

  return (
    <div className="mx-auto mt-4 w-full max-w-sm sm:mt-12">
      <h1 className="text-2xl font-semibold tracking-tight">{t("Choose a new password")}</h1>
      {!token ? (
        <p role="alert" className="mt-6 rounded-md bg-red-50 p-4 text-sm text-red-700">
          {t("This link has no reset token: open the link from the email again.")} {askAgain}
        </p>
      ) : done ? (
        <p role="status" className="mt-6 rounded-lg bg-white p-6 text-sm text-slate-700 shadow-sm ring-1 ring-slate-200">
          {t("Your password is changed, and every session has ended.")} {signIn}
        </p>
      ) : (
        <form onSubmit={onSubmit} className="mt-6 space-y-4 rounded-lg bg-white p-6 shadow-sm ring-1 ring-slate-200">
          {error !== null && !passwordError && (
            <Alert>{errorMessage(error)} {error instanceof ApiError && error.status === 400 && askAgain}</Alert>
          )}
          <NewPasswordField value={password} onChange={setPassword} error={passwordError} />
          <button type="submit" disabled={busy} className={`${buttonClass} w-full`}>
            {busy ? t("Saving…") : t("Set new password")}
          </button>
        </form>
      )}
    </div>
  );
}
