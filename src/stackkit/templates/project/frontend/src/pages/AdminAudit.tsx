import { useState } from "react";
import { buildUrl } from "../api";
import { useAuth } from "../auth/AuthContext";
import { isAdmin } from "../auth/session";
import { AuditTable, type AuditPage } from "../components/AuditEvents";
import { FilterChips } from "../components/FilterChips";
import { Pager, useCursorStack } from "../components/Pager";
import { Pending, secondaryButtonClass } from "../components/Status";
import { t } from "../i18n";
import { useApi } from "../useApi";

const PAGE_SIZE = 50;

/** The filters offered: a label and the events it shows ("" is every event). */
export const AUDIT_FILTERS: { events: string; label: () => string }[] = [
  { events: "", label: () => t("All") },
  { events: "signin.succeeded,signin.failed,signin.throttled", label: () => t("Sign-ins") },
  { events: "signin.failed,signin.throttled,refresh.reused", label: () => t("Warnings") },
  { events: "password.changed,password.reset", label: () => t("Passwords") },
  { events: "session.ended,sessions.ended", label: () => t("Sessions") },
  { events: "user.registered,user.roles_changed,user.disabled,user.enabled,user.deleted", label: () => t("Accounts") },
];

/** The audit log for admins: every account's security events, newest first. */
export default function AdminAudit() {
  const { user, adminRole } = useAuth();
  return isAdmin(user, adminRole) ? <AuditLog /> : <p className="text-slate-600">{t("Only admins can see the audit log.")}</p>;
}

function AuditLog() {
  const [events, setEvents] = useState("");
  const [account, setAccount] = useState("");
  const subject = /^[1-9][0-9]{0,9}$/.test(account.trim()) ? account.trim() : undefined;
  const pages = useCursorStack(`${events}|${subject ?? ""}`);
  const page = useApi<AuditPage>(
    buildUrl("/api/admin/audit", { limit: PAGE_SIZE, cursor: pages.cursor, event: events || undefined, subject_id: subject }),
  );
  return (
    <div>
      <div className="flex flex-wrap items-baseline justify-between gap-2">
        <h1 className="text-2xl font-semibold tracking-tight">{t("Audit log")}</h1>
        <button type="button" className={secondaryButtonClass} onClick={page.reload}>
          {t("Refresh")}
        </button>
      </div>
      <p className="mt-1 text-sm text-slate-600">{t("Security events of every account: sign-ins, passwords, sessions, admins' changes.")}</p>
      <div className="mt-4 flex flex-wrap items-end gap-4">
        <FilterChips
          label={t("Show events")}
          value={events}
          onChange={setEvents}
          options={AUDIT_FILTERS.map((filter) => ({ value: filter.events, label: filter.label() }))}
        />
        <label className="text-sm text-slate-700">
          <span className="mr-2">{t("Account id")}</span>
          <input
            type="text"
            inputMode="numeric"
            value={account}
            onChange={(e) => setAccount(e.target.value)}
            className="w-28 rounded-md border-0 px-2 py-1 ring-1 ring-slate-300 focus:ring-2 focus:ring-slate-900"
          />
        </label>
      </div>
      <Pending value={page} what={t("the audit log")} />
      {page.state === "done" && page.data.items.length === 0 && <p className="mt-6 text-slate-600">{t("No events here.")}</p>}
      {page.state === "done" && page.data.items.length > 0 && <AuditTable events={page.data.items} caption={t("Audit log")} showPeople />}
      <Pager pages={pages} nextCursor={page.state === "done" ? page.data.next_cursor : null} loading={page.state === "loading"} />
    </div>
  );
}
