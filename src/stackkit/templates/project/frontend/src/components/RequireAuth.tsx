import type { ReactNode } from "react";
import { Navigate, useLocation } from "react-router";
import { useAuth } from "../auth/AuthContext";
import { Loading } from "./Status";
import { t } from "../i18n";

/** Its children for a signed-in user; a redirect to /login (and back after) otherwise. */
export function RequireAuth({ children }: { children: ReactNode }) {
  const { status } = useAuth();
  const location = useLocation();
  if (status === "loading") return <Loading label={t("Restoring your session…")} />;
  if (status === "signed-out") {
    const from = location.pathname + location.search;
    return <Navigate to="/login" replace state={{ from }} />;
  }
  return <>{children}</>;
}

/** Its children for a signed-out user; the page they came for (or /) otherwise. */
export function GuestOnly({ children }: { children: ReactNode }) {
  const { status } = useAuth();
  const location = useLocation();
  if (status === "loading") return <Loading label={t("Restoring your session…")} />;
  if (status === "signed-in") return <Navigate to={safeFrom(location.state)} replace />;
  return <>{children}</>;
}

/** The in-app path to return to after signing in (never another origin). */
export function safeFrom(state: unknown): string {
  const from = (state as { from?: unknown } | null)?.from;
  return typeof from === "string" && from.startsWith("/") && !from.startsWith("//") ? from : "/";
}
