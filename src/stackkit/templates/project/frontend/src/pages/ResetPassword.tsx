import { useEffect, useState, type FormEvent } from "react";
import { Link } from "react-router";
import { ApiError, errorMessage } from "../api";
import { useAuth } from "../auth/AuthContext";
import { Field } from "../components/Field";
import { buttonClass } from "../components/Status";

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
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [done, setDone] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await request<void>("/api/auth/password-reset/confirm", { method: "POST", body: { token, new_password: password } });
      setDone(true);
    } catch (caught) {
      setError(caught);
    } finally {
      setBusy(false);
    }
  }

  const passwordError = error instanceof ApiError ? error.fieldError("new_password") : undefined;
  const signIn = (
    <Link to="/login" className="font-medium text-indigo-600 hover:text-indigo-500">
      Sign in
    </Link>
  );
  const askAgain = (
    <Link to="/forgot-password" className="font-medium text-indigo-600 hover:text-indigo-500">
      Ask for a new link
    </Link>
  );

  return (
    <div className="mx-auto mt-4 w-full max-w-sm sm:mt-12">
      <h1 className="text-2xl font-semibold tracking-tight">Choose a new password</h1>
      {!token ? (
        <p role="alert" className="mt-6 rounded-md bg-red-50 p-4 text-sm text-red-700">
          This link has no reset token: open the link from the email again. {askAgain}
        </p>
      ) : done ? (
        <p role="status" className="mt-6 rounded-lg bg-white p-6 text-sm text-slate-700 shadow-sm ring-1 ring-slate-200">
          Your password is changed, and every session has ended. {signIn} with the new password.
        </p>
      ) : (
        <form onSubmit={(e) => void submit(e)} className="mt-6 space-y-4 rounded-lg bg-white p-6 shadow-sm ring-1 ring-slate-200">
          {error !== null && !passwordError && (
            <p role="alert" className="rounded-md bg-red-50 p-3 text-sm text-red-700">
              {errorMessage(error)} {error instanceof ApiError && error.status === 400 && askAgain}
            </p>
          )}
          <Field
            label="New password"
            name="new_password"
            type="password"
            autoComplete="new-password"
            required
            minLength={8}
            maxLength={128}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            error={passwordError}
            hint="8 to 128 characters; not a common password, nor your email."
          />
          <button type="submit" disabled={busy} className={`${buttonClass} w-full`}>
            {busy ? "Saving…" : "Set new password"}
          </button>
        </form>
      )}
    </div>
  );
}
