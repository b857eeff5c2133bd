import { formatDateTime, t } from "../i18n";
import { describeAgent } from "./devices";

/** One entry of GET /api/auth/audit and GET /api/admin/audit. */
export interface AuditEvent {
  id: number;
  event: string;
  description: string;
  created_at: string;
  actor_id: number | null;
  subject_id: number | null;
  address: string | null;
  user_agent: string | null;
  details: Record<string, unknown>;
}

export interface AuditPage {
  items: AuditEvent[];
  next_cursor: string | null;
}

/** Events an account's owner should look at twice. */
const WARNINGS = new Set(["signin.failed", "signin.throttled", "refresh.reused"]);

/** `email="x@example.com"`: an event's details on one line ("" for none). */
export function describeDetails(details: Record<string, unknown>): string {
  return Object.entries(details)
    .map(([name, value]) => `${name.replaceAll("_", " ")} ${typeof value === "string" ? value : JSON.stringify(value)}`)
    .join(" · ");
}

/** A table of audit events, newest first; `showPeople` adds who acted and on whom. */
export function AuditTable({ events, caption, showPeople = false }: { events: AuditEvent[]; caption: string; showPeople?: boolean }) {
  return (
    <div className="mt-4 overflow-x-auto rounded-lg bg-white shadow-sm ring-1 ring-slate-200">
      <table className="min-w-full divide-y divide-slate-200 text-sm">
        <caption className="sr-only">{caption}</caption>
        <thead className="bg-slate-50 text-left text-slate-700">
          <tr>
            <th scope="col" className="px-4 py-3 font-semibold">{t("When")}</th>
            <th scope="col" className="px-4 py-3 font-semibold">{t("Event")}</th>
            {showPeople && <th scope="col" className="px-4 py-3 font-semibold">{t("By")}</th>}
            {showPeople && <th scope="col" className="px-4 py-3 font-semibold">{t("Account")}</th>}
            <th scope="col" className="px-4 py-3 font-semibold">{t("From")}</th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100">
          {events.map((entry) => (
            <tr key={entry.id}>
              <td className="whitespace-nowrap px-4 py-2 text-slate-700">{formatDateTime(entry.created_at)}</td>
              <td className="px-4 py-2">
                <div className={WARNINGS.has(entry.event) ? "font-medium text-red-700" : "font-medium text-slate-900"}>{entry.description}</div>
                <div className="text-xs text-slate-500">
                  {entry.event}
                  {Object.keys(entry.details).length > 0 && ` · ${describeDetails(entry.details)}`}
                </div>
              </td>
              {showPeople && <td className="px-4 py-2 text-slate-700">{entry.actor_id === null ? "—" : t("user {id}", { id: String(entry.actor_id) })}</td>}
              {showPeople && <td className="px-4 py-2 text-slate-700">{entry.subject_id === null ? "—" : t("user {id}", { id: String(entry.subject_id) })}</td>}
              <td className="px-4 py-2 text-slate-700">
                <div>{entry.address ?? t("unknown address")}</div>
                <div className="text-xs text-slate-500">{describeAgent(entry.user_agent)}</div>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
