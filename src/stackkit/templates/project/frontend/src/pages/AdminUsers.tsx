import { useState, type FormEvent } from "react";
import { buildUrl, errorMessage } from "../api";
import { useAuth } from "../auth/AuthContext";
import { isAdmin, type User } from "../auth/session";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { Pager, useCursorStack } from "../components/Pager";
import { Alert, Notice, Pending, secondaryButtonClass } from "../components/Status";
import { formatDateTime, t } from "../i18n";
import { useApi } from "../useApi";

const PAGE_SIZE = 50;

export interface ManagedUser extends User {
  roles: string[];
  is_active: boolean;
  created_at: string;
  last_login_at?: string | null;
}

interface Page {
  items: ManagedUser[];
  next_cursor: string | null;
}

/** User management for admins: find, disable, promote and delete accounts. */
export default function AdminUsers() {
  const { user, adminRole } = useAuth();
  return isAdmin(user, adminRole) ? <UserManagement /> : <p className="text-slate-600">{t("Only admins can manage users.")}</p>;
}

function UserManagement() {
  const { user, adminRole, request } = useAuth();
  const [search, setSearch] = useState("");
  const [email, setEmail] = useState("");
  const pages = useCursorStack(email);
  const page = useApi<Page>(buildUrl("/api/auth/users", { limit: PAGE_SIZE, cursor: pages.cursor, email }));
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<ManagedUser | null>(null);

  async function change(target: ManagedUser, body: Partial<Pick<ManagedUser, "roles" | "is_active">>, done: string) {
    setError(null);
    setNotice(null);
    try {
      await request<ManagedUser>(`/api/auth/users/${encodeURIComponent(String(target.id))}`, { method: "PATCH", body });
      setNotice(done);
      page.reload();
    } catch (caught) {
      setError(errorMessage(caught));
    }
  }

  async function remove(target: ManagedUser) {
    try {
      await request<void>(`/api/auth/users/${encodeURIComponent(String(target.id))}`, { method: "DELETE" });
      setNotice(t("{email} was deleted.", { email: target.email }));
      page.reload();
    } catch (caught) {
      setError(errorMessage(caught));
    }
    setDeleting(null);
  }

  function find(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    setEmail(search.trim());
  }

  return (
    <div>
      <h1 className="text-2xl font-semibold tracking-tight">{t("Users")}</h1>
      <p className="mt-1 text-sm text-slate-600">{t("A change of roles or a disabled account ends that user’s sessions at once.")}</p>
      <form onSubmit={find} role="search" className="mt-4 flex max-w-md gap-2">
        <label htmlFor="user-search" className="sr-only">
          {t("Find by email")}
        </label>
        <input
          id="user-search"
          type="search"
          placeholder={t("Find by email")}
          value={search}
          onChange={(e) => setSearch(e.target.value)}
          className="block w-full rounded-md border border-slate-300 bg-white px-3 py-2 text-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-200"
        />
        <button type="submit" className={secondaryButtonClass}>
          {t("Find")}
        </button>
      </form>
      {notice && (
        <Notice className="mt-4">{notice}</Notice>
      )}
      {error && (
        <Alert className="mt-4">{error}</Alert>
      )}
      <Pending value={page} what={t("the users")} />
      {page.state === "done" && page.data.items.length === 0 && <p className="mt-6 text-slate-600">{t("No user matches.")}</p>}
      {page.state === "done" && page.data.items.length > 0 && (
        <div className="mt-4 overflow-x-auto rounded-lg bg-white shadow-sm ring-1 ring-slate-200">
          <table className="min-w-full divide-y divide-slate-200 text-sm">
            <caption className="sr-only">{t("Users")}</caption>
            <thead className="bg-slate-50 text-left text-slate-700">
              <tr>
                <th scope="col" className="px-4 py-3 font-semibold">{t("Email")}</th>
                <th scope="col" className="px-4 py-3 font-semibold">{t("Roles")}</th>
                <th scope="col" className="px-4 py-3 font-semibold">{t("Status")}</th>
                <th scope="col" className="px-4 py-3 font-semibold">{t("Last sign-in")}</th>
                <th scope="col" className="px-4 py-3 font-semibold">
                  <span className="sr-only">{t("Actions")}</span>
                </th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {page.data.items.map((target) => {
                const self = String(target.id) === String(user?.id);
                const admin = target.roles.includes(adminRole);
                return (
                  <tr key={String(target.id)}>
                    <td className="px-4 py-2 font-medium text-slate-900">
                      {target.email}
                      {self && <span className="ml-2 text-xs font-normal text-slate-500">{t("(you)")}</span>}
                    </td>
                    <td className="px-4 py-2 text-slate-700">{target.roles.join(", ") || "—"}</td>
                    <td className="px-4 py-2">{target.is_active ? t("Active") : <span className="text-red-700">{t("Disabled")}</span>}</td>
                    <td className="px-4 py-2 text-slate-700">{target.last_login_at ? formatDateTime(target.last_login_at) : t("Never")}</td>
                    <td className="whitespace-nowrap px-4 py-2 text-right">
                      {!self && (
                        <div className="flex justify-end gap-2">
                          <button
                            type="button"
                            className={secondaryButtonClass}
                            aria-label={admin ? t("Remove admin role from {email}", { email: target.email }) : t("Make admin: {email}", { email: target.email })}
                            onClick={() =>
                              void change(
                                target,
                                { roles: admin ? target.roles.filter((r) => r !== adminRole) : [...target.roles, adminRole] },
                                admin ? t("{email} is no longer an admin.", { email: target.email }) : t("{email} is now an admin.", { email: target.email }),
                              )
                            }
                          >
                            {admin ? t("Remove admin") : t("Make admin")}
                          </button>
                          <button
                            type="button"
                            className={secondaryButtonClass}
                            aria-label={target.is_active ? t("Disable {email}", { email: target.email }) : t("Enable {email}", { email: target.email })}
                            onClick={() =>
                              void change(
                                target,
                                { is_active: !target.is_active },
                                target.is_active ? t("{email} is disabled.", { email: target.email }) : t("{email} is enabled.", { email: target.email }),
                              )
                            }
                          >
                            {target.is_active ? t("Disable") : t("Enable")}
                          </button>
                          <button
                            type="button"
                            className={`${secondaryButtonClass} text-red-700`}
                            aria-label={t("Delete {email}", { email: target.email })}
                            onClick={() => setDeleting(target)}
                          >
                            {t("Delete")}
                          </button>
                        </div>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      <Pager pages={pages} nextCursor={page.state === "done" ? page.data.next_cursor : null} loading={page.state === "loading"} />
      {deleting && (
        <ConfirmDialog
          title={t("Delete {email}?", { email: deleting.email })}
          message={t("The account and its sessions end now. This cannot be undone.")}
          confirmLabel={t("Delete")}
          onConfirm={() => void remove(deleting)}
          onCancel={() => setDeleting(null)}
        />
      )}
    </div>
  );
}
