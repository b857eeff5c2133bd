import { Suspense, lazy } from "react";
import { Link, NavLink, Outlet, useNavigate } from "react-router";
import { useAuth } from "../auth/AuthContext";
import { isAdmin } from "../auth/session";
import { t } from "../i18n";
import { Preferences } from "./Preferences";
import { Loading } from "./Status";

export const APP_NAME = "stackkit app";

// Loaded only for the signed-in users of an app that verifies addresses: not part of
// the sign-in page's JavaScript.
const VerifyEmailBanner = lazy(() => import("./Verification").then((m) => ({ default: m.VerifyEmailBanner })));

const navLink = ({ isActive }: { isActive: boolean }) =>
  `rounded-md px-3 py-2 text-sm font-medium ${isActive ? "bg-slate-800 text-white" : "text-slate-300 hover:bg-slate-700 hover:text-white"}`;

export function Layout() {
  const { status, user, adminRole, hasJobs, hasApiKeys, unverifiedEmail, logout } = useAuth();
  const navigate = useNavigate();

  async function signOut() {
    await logout();
    navigate("/login", { replace: true });
  }

  return (
    <div className="flex min-h-screen flex-col">
      <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-10 focus:rounded focus:bg-white focus:px-3 focus:py-2">
        {t("Skip to content")}
      </a>
      <header className="bg-slate-900">
        <nav aria-label={t("Main")} className="mx-auto flex max-w-6xl flex-wrap items-center gap-2 px-4 py-3 sm:px-6">
          <Link to="/" className="mr-4 text-base font-semibold text-white">
            {APP_NAME}
          </Link>
          {status === "signed-in" && (
            <>
              <NavLink to="/" end className={navLink}>
                {t("Dashboard")}
              </NavLink>
              <NavLink to="/profile" className={navLink}>
                {t("Profile")}
              </NavLink>
              {hasApiKeys && (
                <NavLink to="/api-keys" className={navLink}>
                  {t("API keys")}
                </NavLink>
              )}
              {isAdmin(user, adminRole) && (
                <NavLink to="/admin/users" className={navLink}>
                  {t("Users")}
                </NavLink>
              )}
              {isAdmin(user, adminRole) && hasJobs && (
                <NavLink to="/admin/jobs" className={navLink}>
                  {t("Jobs")}
                </NavLink>
              )}
              {isAdmin(user, adminRole) && (
                <NavLink to="/admin/audit" className={navLink}>
                  {t("Audit log")}
                </NavLink>
              )}
              <div className="ml-auto flex items-center gap-3">
                <span className="hidden max-w-[16rem] truncate text-sm text-slate-300 sm:inline" title={user?.email}>
                  {user?.email}
                </span>
                <button
                  type="button"
                  onClick={() => void signOut()}
                  className="rounded-md px-3 py-2 text-sm font-medium text-slate-300 hover:bg-slate-700 hover:text-white"
                >
                  {t("Log out")}
                </button>
              </div>
            </>
          )}
        </nav>
      </header>
      {status === "signed-in" && unverifiedEmail && (
        <Suspense fallback={null}>
          <VerifyEmailBanner email={unverifiedEmail} />
        </Suspense>
      )}
      <main id="main" className="mx-auto w-full max-w-6xl flex-1 px-4 py-6 sm:px-6 sm:py-8">
        <Suspense fallback={<Loading />}>
          <Outlet />
        </Suspense>
      </main>
      <footer className="border-t border-slate-200">
        <div className="mx-auto max-w-6xl px-4 py-4 sm:px-6">
          <Preferences />
        </div>
      </footer>
    </div>
  );
}
