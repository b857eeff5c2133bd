import type { ReactNode } from "react";
import { errorMessage } from "../api";
import type { Loadable } from "../useApi";
import { t } from "../i18n";

export function Loading({ label }: { label?: string }) {
  return (
    <div role="status" aria-live="polite" className="flex items-center gap-2 py-8 text-slate-500">
      <span className="size-4 animate-spin rounded-full border-2 border-slate-300 border-t-indigo-600" aria-hidden="true" />
      {label ?? t("Loading…")}
    </div>
  );
}

export function ErrorBox({ children, onRetry }: { children: ReactNode; onRetry?: () => void }) {
  return (
    <div role="alert" className="rounded-md border border-red-200 bg-red-50 p-4 text-sm text-red-800">
      <p>{children}</p>
      {onRetry && (
        <button
          type="button"
          onClick={onRetry}
          className="mt-2 font-medium text-red-900 underline underline-offset-2 hover:no-underline"
        >
          {t("Try again")}
        </button>
      )}
    </div>
  );
}

export const buttonClass =
  "inline-flex items-center justify-center rounded-md bg-indigo-600 px-4 py-2 text-sm font-semibold text-white shadow-sm hover:bg-indigo-500 focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-600 disabled:cursor-not-allowed disabled:opacity-60";

export const secondaryButtonClass =
  "inline-flex items-center justify-center rounded-md border border-slate-300 bg-white px-4 py-2 text-sm font-medium text-slate-700 shadow-sm hover:bg-slate-50 focus-visible:outline focus-visible:outline-2 focus-visible:outline-offset-2 focus-visible:outline-indigo-600 disabled:cursor-not-allowed disabled:opacity-60";

/** A success message, announced politely. */
export function Notice({ children, className = "" }: { children: ReactNode; className?: string }) {
  return (
    <p role="status" className={`rounded-md bg-emerald-50 p-3 text-sm text-emerald-800 ${className}`}>
      {children}
    </p>
  );
}

/** An error message, announced at once; `id` lets a form point at it (aria-describedby). */
export function Alert({ children, id, className = "" }: { children: ReactNode; id?: string; className?: string }) {
  return (
    <p id={id} role="alert" className={`rounded-md bg-red-50 p-3 text-sm text-red-700 ${className}`}>
      {children}
    </p>
  );
}

/** The spinner while `value` loads, or its error with a retry; nothing once it is there. */
export function Pending({ value, what }: { value: Loadable<unknown> & { reload: () => void }; what: string }) {
  if (value.state === "loading") return <Loading />;
  if (value.state === "done") return null;
  return (
    <div className="mt-4">
      <ErrorBox onRetry={value.reload}>
        {t("Could not load {what}: {error}", { what, error: errorMessage(value.error) })}
      </ErrorBox>
    </div>
  );
}
