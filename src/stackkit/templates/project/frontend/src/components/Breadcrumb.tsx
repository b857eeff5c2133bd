import { Fragment, useEffect, useState } from "react";
import { Link, useLocation, useNavigate } from "react-router";
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

/** A message left by the page before (`navigate(to, { state: { flash } })`), announced
 *  politely. It is shown on that address only, once: taken out of the history entry,
 *  so that a reload (in another language, say) does not show it again. */
export function Flash() {
  const location = useLocation();
  const navigate = useNavigate();
  const address = location.pathname + location.search;
  const left = (location.state as { flash?: unknown } | null)?.flash;
  const [shown, setShown] = useState<{ text: unknown; address: string }>({ text: left, address });
  useEffect(() => {
    if (left !== undefined) {
      setShown({ text: left, address });
      void navigate({ pathname: location.pathname, search: location.search, hash: location.hash }, { replace: true, state: null });
    } else {
      // Another address (a sort, a filter, Back): the message is gone for good.
      setShown((current) => (current.address === address ? current : { text: undefined, address }));
    }
  }, [left, address, location.pathname, location.search, location.hash, navigate]);
  const flash = shown.address === address ? shown.text : undefined;
  if (typeof flash !== "string") return null;
  return (
    <p role="status" className="mt-4 rounded-md bg-emerald-50 p-3 text-sm text-emerald-800">
      {flash}
    </p>
  );
}
