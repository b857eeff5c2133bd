import { Link } from "react-router";
import { t } from "../i18n";

export default function NotFound() {
  return (
    <div className="py-12 text-center">
      <h1 className="text-2xl font-semibold">{t("Page not found")}</h1>
      <p className="mt-2 text-slate-600">{t("There is nothing at this address.")}</p>
      <Link to="/" className="mt-6 inline-block font-medium text-indigo-600 hover:text-indigo-500">
        {t("Back to the dashboard")}
      </Link>
    </div>
  );
}
