import { Link } from "react-router";
import { errorMessage } from "../api";
import { useAuth } from "../auth/AuthContext";
import { useEmailedLink } from "../auth/useEmailedLink";
import { Loading } from "../components/Status";
import { t } from "../i18n";

/** The link of the email that confirms a new address (`/confirm-email#token=...`). */
export default function ConfirmEmail() {
  const { status } = useAuth();
  const { token, outcome } = useEmailedLink("/api/auth/email/confirm");

  const next =
    status === "signed-in" ? (
      <Link to="/profile" className="font-medium text-indigo-600 hover:text-indigo-500">
        {t("Back to your profile")}
      </Link>
    ) : (
      <Link to="/login" className="font-medium text-indigo-600 hover:text-indigo-500">
        {t("Sign in with the new address")}
      </Link>
    );

  return (
    <div className="mx-auto mt-4 w-full max-w-sm sm:mt-12">
      <h1 className="text-2xl font-semibold tracking-tight">{t("Confirm your new email address")}</h1>
      {!token ? (
        <p role="alert" className="mt-6 rounded-md bg-red-50 p-4 text-sm text-red-700">
          {t("This link has no token: open the link from the email again.")}
        </p>
      ) : outcome === "pending" ? (
        <Loading />
      ) : outcome === "done" ? (
        <p role="status" className="mt-6 rounded-lg bg-white p-6 text-sm text-slate-700 shadow-sm ring-1 ring-slate-200">
          {t("Your email address is changed, and your other sessions have ended.")} {next}
        </p>
      ) : (
        <p role="alert" className="mt-6 rounded-md bg-red-50 p-4 text-sm text-red-700">
          {errorMessage(outcome)} {next}
        </p>
      )}
    </div>
  );
}
