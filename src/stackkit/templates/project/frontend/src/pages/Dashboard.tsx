import { Link } from "react-router";
import { useAuth } from "../auth/AuthContext";
import { Pending } from "../components/Status";
import { resourceTitle, type ResourceInfo } from "../resources";
import { useApi } from "../useApi";
import { t } from "../i18n";

export default function Dashboard() {
  const { user } = useAuth();
  const resources = useApi<ResourceInfo[]>("/api/meta/resources");

  return (
    <div>
      <h1 className="text-2xl font-semibold tracking-tight">{t("Dashboard")}</h1>
      {user && <p className="mt-1 text-sm text-slate-600">{t("Signed in as {email}.", { email: user.email })}</p>}
      <h2 className="mt-8 text-lg font-medium">{t("Resources")}</h2>
      <Pending value={resources} what={t("the resources")} />
      {resources.state === "done" && resources.data.length === 0 && (
        <p className="mt-4 text-slate-600">
          {t("This API has no resources yet. Add one with")} <code className="rounded bg-slate-100 px-1">stackkit generate resource</code>. {/* i18n: not text */}
        </p>
      )}
      {resources.state === "done" && resources.data.length > 0 && (
        <ul className="mt-4 grid gap-4 sm:grid-cols-2 lg:grid-cols-3">
          {resources.data.map((info) => (
            <li key={info.name}>
              <Link
                to={`/r/${encodeURIComponent(info.name)}`}
                className="block h-full rounded-lg bg-white p-5 shadow-sm ring-1 ring-slate-200 hover:ring-indigo-400 focus-visible:outline-2 focus-visible:outline-indigo-600"
              >
                <span className="block font-medium text-slate-900">{resourceTitle(info)}</span>
                <span className="mt-1 block font-mono text-xs text-slate-500">{info.path}</span>
                <span className="mt-3 flex flex-wrap gap-2 text-xs">
                  {info.owned && <span className="rounded-full bg-indigo-50 px-2 py-0.5 text-indigo-700">{t("yours only")}</span>}
                  {info.public && <span className="rounded-full bg-emerald-50 px-2 py-0.5 text-emerald-700">{t("public")}</span>}
                </span>
              </Link>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
