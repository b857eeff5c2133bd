import { useState } from "react";
import { Link } from "react-router";
import { ApiError, errorMessage } from "../api";
import { useAuth } from "../auth/AuthContext";
import { EmailField } from "../components/AccountFields";
import { Alert, buttonClass } from "../components/Status";
import { t } from "../i18n";
import { useSubmit } from "../useApi";

/** Ask for a password-reset link. The answer is the same whether the email has an account. */
export default function ForgotPassword() {
  const { request } = useAuth();
  const [email, setEmail] = useState("");
  const { busy, error, done: sent, onSubmit } = useSubmit(() =>
    request<void>("/api/auth/password-reset", { method: "POST", body: { email } }),
  );

  const emailError = error instanceof ApiError ? error.fieldError("email") : undefined;
  return (
    <div className="mx-auto mt-4 w-full max-w-sm sm:mt-12">
      <h1 className="text-2xl font-semibold tracking-tight">{t("Reset your password")}</h1>
      {sent ? (
        <p role="status" className="mt-6 rounded-lg bg-white p-6 text-sm text-slate-700 shadow-sm ring-1 ring-slate-200">
          {t("If an account uses {email}, a link to choose a new password is on its way. It works for an hour.", { email })}
        </p>
      ) : (
        <form onSubmit={onSubmit} className="mt-6 space-y-4 rounded-lg bg-white p-6 shadow-sm ring-1 ring-slate-200">
          <p className="text-sm text-slate-600">{t("Enter your account’s email: we will send you a link to choose a new password.")}</p>
          {error !== null && !emailError && (
            <Alert>{errorMessage(error)}</Alert>
          )}
          <EmailField value={email} onChange={setEmail} error={emailError} />
          <button type="submit" disabled={busy} className={`${buttonClass} w-full`}>
            {busy ? t("Sending…") : t("Send reset link")}
          </button>
        </form>
      )}
      <p className="mt-4 text-center text-sm text-slate-600">
        <Link to="/login" className="font-medium text-indigo-600 hover:text-indigo-500">
          {t("Back to sign in")}
        </Link>
      </p>
    </div>
  );
}
