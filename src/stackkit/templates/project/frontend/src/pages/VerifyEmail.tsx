import { Link } from "react-router";
import { errorMessage } from "../api";
import { useAuth } from "../auth/AuthContext";
import { useEmailedLink } from "../auth/useEmailedLink";
import { Loading } from "../components/Status";
import { ResendVerification } from "../components/Verification";
import { t } from "../i18n";

/** The link of the verification email (`/verify-email#token=...`): verified on arrival. */
export default function VerifyEmail() {
  const { status, user } = useAuth();
  const { token, outcome } = useEmailedLink("/api/auth/verify-email");

  const next =
    status === "signed-in" ? (
      <Link to="/" className="font-medium text-indigo-600 hover:text-indigo-500">
        {t("Go to the dashboard")}
      </Link>
    ) : (
      <Link to="/login" className="font-medium text-indigo-600 hover:text-indigo-500">
        {t("Sign in")}
      </Link>
    );

  return (
    <div className="mx-auto mt-4 w-full max-w-sm sm:mt-12">
      <h1 className="text-2xl font-semibold tracking-tight">{t("Verify your email address")}</h1>
      {!token ? (
        <p role="alert" className="mt-6 rounded-md bg-red-50 p-4 text-sm text-red-700">
          {t("This link has no token: open the link from the email again.")}
        </p>
      ) : outcome === "pending" ? (
        <Loading />
      ) : outcome === "done" ? (
        <p role="status" className="mt-6 rounded-lg bg-white p-6 text-sm text-slate-700 shadow-sm ring-1 ring-slate-200">
          {t("Your email address is verified.")} {next}
        </p>
      ) : (
        <p role="alert" className="mt-6 rounded-md bg-red-50 p-4 text-sm text-red-700">
          {errorMessage(outcome)} {status === "signed-in" && user ? <ResendVerification /> : next}
        </p>
      )}
    </div>
  );
}
