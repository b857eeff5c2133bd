import { useState } from "react";
import { Link, useLocation } from "react-router";
import { errorMessage } from "../api";
import { useAuth } from "../auth/AuthContext";
import { CheckYourEmail } from "../auth/session";
import { CredentialsForm } from "../components/CredentialsForm";
import { ResendVerification } from "../components/Verification";
import { t } from "../i18n";

export default function Register() {
  const { register } = useAuth();
  const location = useLocation();
  const [sentTo, setSentTo] = useState<CheckYourEmail | null>(null);

  async function submit(email: string, password: string) {
    try {
      await register(email, password);
    } catch (error) {
      if (!(error instanceof CheckYourEmail)) throw error;
      setSentTo(error);
    }
  }

  if (sentTo) {
    return (
      <div className="mx-auto mt-4 w-full max-w-sm sm:mt-12">
        <h1 className="text-2xl font-semibold tracking-tight">{t("Check your email")}</h1>
        <p role="status" className="mt-6 rounded-lg bg-white p-6 text-sm text-slate-700 shadow-sm ring-1 ring-slate-200">
          {sentTo.message} <ResendVerification email={sentTo.email} />
        </p>
      </div>
    );
  }
  return (
    <CredentialsForm
      id="register"
      title={t("Create an account")}
      submitLabel={t("Create account")}
      busyLabel={t("Creating your account…")}
      newPassword
      onSubmit={submit}
      describe={(error, apiError) => {
        const email =
          apiError?.status === 409 ? t("An account with this email already exists.") : apiError?.fieldError("email");
        const password = apiError?.fieldError("password");
        const form =
          email || password ? null : apiError?.status === 403 ? t("Registration is closed.") : errorMessage(error);
        return { email, password, form };
      }}
      footer={
        <>
          {t("Already registered?")}{" "}
          <Link to="/login" state={location.state} className="font-medium text-indigo-600 hover:text-indigo-500">
            {t("Sign in")}
          </Link>
        </>
      }
    />
  );
}
