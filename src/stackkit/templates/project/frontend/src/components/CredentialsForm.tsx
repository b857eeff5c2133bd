import { useState, type FormEvent, type ReactNode } from "react";
import { ApiError, errorMessage } from "../api";
import { EmailField, NewPasswordField } from "./AccountFields";
import { Field } from "./Field";
import { buttonClass } from "./Status";
import { t } from "../i18n";

/** What a page shows for a failed submission: on a field, or above the form. */
export interface CredentialsErrors {
  email?: string | undefined;
  password?: string | undefined;
  form?: string | null;
}

interface Props {
  /** `login` or `register`: names the element of the form-wide error. */
  id: string;
  title: string;
  submitLabel: string;
  busyLabel: string;
  /** A password being chosen (registration): the policy's limits and hint. */
  newPassword?: boolean;
  onSubmit: (email: string, password: string) => Promise<unknown>;
  /** The page's reading of an error; by default the API's field errors, else its message. */
  describe?: (error: Error, apiError: ApiError | null) => CredentialsErrors;
  /** Shown under the password field (the sign-in page's reset link). */
  afterPassword?: ReactNode;
  footer: ReactNode;
}

function fieldErrors(error: Error, apiError: ApiError | null): CredentialsErrors {
  const email = apiError?.fieldError("email");
  const password = apiError?.fieldError("password");
  return { email, password, form: !email && !password ? errorMessage(error) : null };
}

/** An email and password form, as the sign-in and registration pages share it. */
export function CredentialsForm(props: Props) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await props.onSubmit(email, password);
    } catch (caught) {
      setError(caught instanceof Error ? caught : new Error(String(caught)));
      setBusy(false);
    }
  }

  const errors = error
    ? (props.describe ?? fieldErrors)(error, error instanceof ApiError ? error : null)
    : {};
  const errorId = `${props.id}-error`;

  return (
    <div className="mx-auto mt-4 w-full max-w-sm sm:mt-12">
      <h1 className="text-2xl font-semibold tracking-tight">{props.title}</h1>
      <form onSubmit={(e) => void submit(e)} className="mt-6 space-y-4 rounded-lg bg-white p-6 shadow-sm ring-1 ring-slate-200" aria-describedby={errors.form ? errorId : undefined}>
        {errors.form && (
          <p id={errorId} role="alert" className="rounded-md bg-red-50 p-3 text-sm text-red-700">
            {errors.form}
          </p>
        )}
        <EmailField value={email} onChange={setEmail} error={errors.email} />
        {props.newPassword ? (
          <NewPasswordField label={t("Password")} name="password" value={password} onChange={setPassword} error={errors.password} />
        ) : (
          <Field
            label={t("Password")}
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            error={errors.password}
          />
        )}
        {props.afterPassword && <p className="text-right">{props.afterPassword}</p>}
        <button type="submit" disabled={busy} className={`${buttonClass} w-full`}>
          {busy ? props.busyLabel : props.submitLabel}
        </button>
      </form>
      <p className="mt-4 text-center text-sm text-slate-600">{props.footer}</p>
    </div>
  );
}
