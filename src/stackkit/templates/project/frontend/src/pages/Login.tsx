import { Suspense, lazy, useState } from "react";
import { Link, useLocation } from "react-router";
import { useAuth } from "../auth/AuthContext";
import { SecondStepNeeded, isUnverified } from "../auth/session";
import { CredentialsForm } from "../components/CredentialsForm";
import { t } from "../i18n";

// Needed only after a refusal, or for an account that asks for a code: not part of the
// sign-in page's first load.
const ResendVerification = lazy(() =>
  import("../components/Verification").then((m) => ({ default: m.ResendVerification })),
);
const SecondStep = lazy(() => import("../components/SecondStep"));

export default function Login() {
  const { login } = useAuth();
  const location = useLocation();
  // An account that must verify its email first: offer a new link.
  const [unverified, setUnverified] = useState<string | null>(null);
  const [challenge, setChallenge] = useState<string | null>(null);

  async function submit(email: string, password: string) {
    setUnverified(null);
    try {
      await login(email, password);
    } catch (error) {
      if (error instanceof SecondStepNeeded) {
        setChallenge(error.challenge);
        return;
      }
      if (isUnverified(error)) setUnverified(email);
      throw error;
    }
  }

  if (challenge) {
    return (
      <Suspense fallback={null}>
        <SecondStep challenge={challenge} onRestart={() => setChallenge(null)} />
      </Suspense>
    );
  }

  // After a sign-in, <GuestOnly> sends the user on to the page they came for.
  return (
    <CredentialsForm
      id="login"
      title={t("Sign in")}
      submitLabel={t("Sign in")}
      busyLabel={t("Signing in…")}
      onSubmit={submit}
      afterPassword={
        <Link to="/forgot-password" className="text-sm font-medium text-indigo-600 hover:text-indigo-500">
          {t("Forgot your password?")}
        </Link>
      }
      footer={
        <>
          {unverified && (
            <span className="mb-3 block">
              <Suspense fallback={null}>
                <ResendVerification email={unverified} />
              </Suspense>
            </span>
          )}
          {t("No account yet?")}{" "}
          <Link to="/register" state={location.state} className="font-medium text-indigo-600 hover:text-indigo-500">
            {t("Create one")}
          </Link>
        </>
      }
    />
  );
}
