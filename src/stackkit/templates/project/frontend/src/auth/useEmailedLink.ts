import { useEffect, useRef, useState } from "react";
import { useAuth } from "./AuthContext";
import { tokenFromHash } from "../pages/ResetPassword";

export type LinkOutcome = "pending" | "done" | Error;

/** The page of an emailed link (`/verify-email#token=...`): posts its token to `path`
 *  once, even in StrictMode (a token works once), and takes it out of the address bar
 *  and the history. Signed in, the user is loaded again after it worked. */
export function useEmailedLink(path: string): { token: string; outcome: LinkOutcome } {
  const { status, reload, request } = useAuth();
  const [token] = useState(() => tokenFromHash(window.location.hash));
  const [outcome, setOutcome] = useState<LinkOutcome>("pending");
  const sent = useRef(false);

  useEffect(() => {
    if (window.location.hash) window.history.replaceState(window.history.state, "", window.location.pathname);
    if (!token || sent.current) return;
    sent.current = true;
    request<void>(path, { method: "POST", body: { token } }).then(
      () => setOutcome("done"),
      (error: unknown) => setOutcome(error instanceof Error ? error : new Error(String(error))),
    );
  }, [token, path, request]);

  useEffect(() => {
    if (outcome === "done" && status === "signed-in") void reload();
  }, [outcome, status, reload]);

  return { token, outcome };
}
