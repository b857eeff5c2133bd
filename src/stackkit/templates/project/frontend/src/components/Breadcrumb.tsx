import { Fragment } from "react";
import { Link, useLocation } from "react-router";
import { t } from "../i18n";

export interface Crumb {
  label: string;
  to: string;
}

/** Where the page sits: links to the pages above it, then its own name. */
export function Breadcrumb({ trail, current }: { trail: Crumb[]; current: string }) {
  return (
    <nav aria-label={t("Breadcrumb")} className="text-sm text-slate-500">
      {trail.map((crumb) => (
        <Fragment key={crumb.to}>
          <Link to={crumb.to} className="hover:text-slate-700">
            {crumb.label}
          </Link>{" "}
          /{" "}
        </Fragment>
      ))}
      <span aria-current="page">{current}</span>
    </nav>
  );
}

/** A message left by the page before (`navigate(to, { state: { flash } })`), announced politely. */
export function Flash() {
  const { state } = useLocation();
  const flash = (state as { flash?: unknown } | null)?.flash;
  if (typeof flash !== "string") return null;
  return (
    <p role="status" className="mt-4 rounded-md bg-emerald-50 p-3 text-sm text-emerald-800">
      {flash}
    </p>
  );
}
