import { useState } from "react";
import { errorMessage } from "../api";
import { useAuth } from "../auth/AuthContext";
import { t } from "../i18n";

/** "Send the link again": a new link to verify the address, to the signed-in user
 *  (no `email`) or to the account of `email`. The answer never says whether it has one. */
export function ResendVerification({ email, className = "" }: { email?: string; className?: string }) {
  const { request } = useAuth();
  const [state, setState] = useState<"idle" | "busy" | "sent">("idle");
  const [error, setError] = useState<string | null>(null);

  async function resend() {
    setState("busy");
    setError(null);
    const options = { method: "POST", body: email ? { email } : {} } as const;
    try {
      await request<void>("/api/auth/verify-email/resend", options);
      setState("sent");
    } catch (caught) {
      setError(errorMessage(caught));
      setState("idle");
    }
  }

  if (state === "sent") {
    return (
      <span role="status" className={className}>
        {t("Sent: check your inbox.")}
      </span>
    );
  }
  return (
    <span className={className}>
      <button type="button" disabled={state === "busy"} onClick={() => void resend()} className="font-medium text-indigo-700 underline hover:text-indigo-600">
        {state === "busy" ? t("Sending…") : t("Send the link again")}
      </button>
      {error && (
        <span role="alert" className="ml-2 text-red-700">
          {error}
        </span>
      )}
    </span>
  );
}

/** The banner a signed-in user whose address is not verified sees on every page. */
export function VerifyEmailBanner({ email }: { email: string }) {
  return (
    <div role="region" aria-label={t("Email verification")} className="bg-amber-50 ring-1 ring-amber-200">
      <p className="mx-auto max-w-6xl px-4 py-2 text-sm text-amber-900 sm:px-6">
        {t("Verify your email address: open the link we sent to {email}.", { email })} <ResendVerification className="ml-1" />
      </p>
    </div>
  );
}
