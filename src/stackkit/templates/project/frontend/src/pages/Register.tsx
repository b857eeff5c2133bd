import { useState, type FormEvent } from "react";
import { Link, useLocation } from "react-router";
import { ApiError, errorMessage } from "../api";
import { useAuth } from "../auth/AuthContext";
import { Field } from "../components/Field";
import { buttonClass } from "../components/Status";

export default function Register() {
  const { register } = useAuth();
  const location = useLocation();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await register(email, password);
    } catch (caught) {
      setError(caught instanceof Error ? caught : new Error(String(caught)));
      setBusy(false);
    }
  }

  const apiError = error instanceof ApiError ? error : null;
  const emailError =
    apiError?.status === 409 ? "An account with this email already exists." : apiError?.fieldError("email");
  const passwordError = apiError?.fieldError("password");
  let formError: string | null = null;
  if (error && !emailError && !passwordError) {
    formError = apiError?.status === 403 ? "Registration is closed." : errorMessage(error);
  }

  return (
    <div className="mx-auto mt-4 w-full max-w-sm sm:mt-12">
      <h1 className="text-2xl font-semibold tracking-tight">Create an account</h1>
      <form onSubmit={(e) => void submit(e)} className="mt-6 space-y-4 rounded-lg bg-white p-6 shadow-sm ring-1 ring-slate-200" aria-describedby={formError ? "register-error" : undefined}>
        {formError && (
          <p id="register-error" role="alert" className="rounded-md bg-red-50 p-3 text-sm text-red-700">
            {formError}
          </p>
        )}
        <Field
          label="Email"
          name="email"
          type="email"
          autoComplete="username"
          required
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          error={emailError}
        />
        <Field
          label="Password"
          name="password"
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
          {busy ? "Creating your account…" : "Create account"}
        </button>
      </form>
      <p className="mt-4 text-center text-sm text-slate-600">
        Already registered?{" "}
        <Link to="/login" state={location.state} className="font-medium text-indigo-600 hover:text-indigo-500">
          Sign in
        </Link>
      </p>
    </div>
  );
}
