import { useState } from "react";
import { ApiError, errorMessage } from "../api";
import { useAuth } from "../auth/AuthContext";
import { t } from "../i18n";
import { Field } from "./Field";
import { buttonClass } from "./Status";

/** The sign-in's second step: the authenticator app's code, or a recovery code. */
export default function SecondStep({ challenge, onRestart }: { challenge: string; onRestart: () => void }) {
  const { secondStep } = useAuth();
  const [code, setCode] = useState("");
  const [trust, setTrust] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [expired, setExpired] = useState(false);
  const [busy, setBusy] = useState(false);

  async function submit(event: React.FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await secondStep(challenge, code, trust);
      // Signed in: <GuestOnly> sends the user on.
    } catch (caught) {
      setBusy(false);
      setCode("");
      setError(errorMessage(caught));
      // A challenge that died (expired, too many codes) cannot be tried again.
      setExpired(caught instanceof ApiError && caught.status === 401 && /sign in again/.test(caught.message));
    }
  }

  return (
    <div className="mx-auto mt-4 w-full max-w-sm sm:mt-12">
      <h1 className="text-2xl font-semibold tracking-tight">{t("Two-factor sign-in")}</h1>
      <p className="mt-2 text-sm text-slate-600">
        {t("Enter the 6-digit code your authenticator app shows, or one of your recovery codes.")}
      </p>
      <form onSubmit={(e) => void submit(e)} className="mt-6 space-y-4 rounded-lg bg-white p-6 shadow-sm ring-1 ring-slate-200">
        {error && (
          <p role="alert" className="rounded-md bg-red-50 p-3 text-sm text-red-700">
            {error}
          </p>
        )}
        {!expired && (
          <>
            <Field
              label={t("Code")}
              name="code"
              autoComplete="one-time-code"
              inputMode="text"
              autoFocus
              required
              maxLength={32}
              value={code}
              onChange={(e) => setCode(e.target.value)}
            />
            <label className="flex items-center gap-2 text-sm text-slate-700">
              <input type="checkbox" checked={trust} onChange={(e) => setTrust(e.target.checked)} />
              {t("Trust this browser for 30 days")}
            </label>
            <button type="submit" disabled={busy} className={`${buttonClass} w-full`}>
              {busy ? t("Checking…") : t("Sign in")}
            </button>
          </>
        )}
      </form>
      <p className="mt-4 text-center text-sm text-slate-600">
        <button type="button" onClick={onRestart} className="font-medium text-indigo-600 hover:text-indigo-500">
          {t("Start again")}
        </button>
      </p>
    </div>
  );
}
