import { useState } from "react";
import { buildUrl, errorMessage } from "../api";
import { useAuth } from "../auth/AuthContext";
import { isAdmin } from "../auth/session";
import { FilterChips } from "../components/FilterChips";
import { Pager, useCursorStack } from "../components/Pager";
import { Alert, Notice, Pending, secondaryButtonClass } from "../components/Status";
import { formatDateTime, formatNumber, t } from "../i18n";
import { useApi } from "../useApi";

const PAGE_SIZE = 50;

export type JobStatus = "todo" | "doing" | "succeeded" | "failed" | "cancelled" | "aborted";

export interface QueuedJob {
  id: number;
  name: string;
  queue: string;
  status: JobStatus;
  attempts: number;
  arguments: Record<string, unknown>;
  scheduled_at: string | null;
  last_error: string | null;
}

interface Page {
  items: QueuedJob[];
  next_cursor: string | null;
  counts: Record<JobStatus, number>;
}

/** The filters, in the order a job goes through them; "" is every job. */
const FILTERS: { status: JobStatus | ""; label: () => string }[] = [
  { status: "", label: () => t("All") },
  { status: "todo", label: () => t("Waiting") },
  { status: "doing", label: () => t("Running") },
  { status: "failed", label: () => t("Failed") },
  { status: "succeeded", label: () => t("Done") },
  { status: "cancelled", label: () => t("Cancelled") },
];

const LABELS: Record<JobStatus, () => string> = {
  todo: () => t("Waiting"),
  doing: () => t("Running"),
  succeeded: () => t("Done"),
  failed: () => t("Failed"),
  cancelled: () => t("Cancelled"),
  aborted: () => t("Aborted"),
};

/** The job queue for admins: what waits, runs, failed (with its error); retry and cancel. */
export default function AdminJobs() {
  const { user, adminRole } = useAuth();
  return isAdmin(user, adminRole) ? <JobList /> : <p className="text-slate-600">{t("Only admins can see the jobs.")}</p>;
}

function JobList() {
  const { request } = useAuth();
  const [status, setStatus] = useState<JobStatus | "">("");
  const pages = useCursorStack(status);
  const page = useApi<Page>(buildUrl("/api/admin/jobs", { limit: PAGE_SIZE, cursor: pages.cursor, status: status || undefined }));
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  async function act(job: QueuedJob, action: "retry" | "cancel") {
    setError(null);
    setNotice(null);
    try {
      await request<void>(`/api/admin/jobs/${encodeURIComponent(String(job.id))}/${action}`, { method: "POST" });
      const id = String(job.id);
      setNotice(action === "retry" ? t("Job {id} is queued again.", { id }) : t("Job {id} is cancelled.", { id }));
      page.reload();
    } catch (caught) {
      setError(errorMessage(caught));
    }
  }

  const counts = page.state === "done" ? page.data.counts : null;
  return (
    <div>
      <div className="flex flex-wrap items-baseline justify-between gap-2">
        <h1 className="text-2xl font-semibold tracking-tight">{t("Jobs")}</h1>
        <button type="button" className={secondaryButtonClass} onClick={page.reload}>
          {t("Refresh")}
        </button>
      </div>
      <p className="mt-1 text-sm text-slate-600">{t("Background work: what waits, what runs, and what failed with its error.")}</p>
      <FilterChips
        label={t("Show jobs")}
        className="mt-4"
        value={status}
        onChange={setStatus}
        options={FILTERS.map((filter) => ({
          value: filter.status,
          label: filter.label(),
          suffix: counts && filter.status ? ` (${formatNumber(counts[filter.status])})` : "",
        }))}
      />
      {notice && <Notice className="mt-4">{notice}</Notice>}
      {error && <Alert className="mt-4">{error}</Alert>}
      <Pending value={page} what={t("the jobs")} />
      {page.state === "done" && page.data.items.length === 0 && <p className="mt-6 text-slate-600">{t("No jobs here.")}</p>}
      {page.state === "done" && page.data.items.length > 0 && (
        <div className="mt-4 overflow-x-auto rounded-lg bg-white shadow-sm ring-1 ring-slate-200">
          <table className="min-w-full divide-y divide-slate-200 text-sm">
            <caption className="sr-only">{t("Jobs")}</caption>
            <thead className="bg-slate-50 text-left text-slate-700">
              <tr>
                <th scope="col" className="px-4 py-3 font-semibold">{t("Job")}</th>
                <th scope="col" className="px-4 py-3 font-semibold">{t("Status")}</th>
                <th scope="col" className="px-4 py-3 font-semibold">{t("Attempts")}</th>
                <th scope="col" className="px-4 py-3 font-semibold">{t("Runs at")}</th>
                <th scope="col" className="px-4 py-3 font-semibold">{t("Last error")}</th>
                <th scope="col" className="px-4 py-3 font-semibold">
                  <span className="sr-only">{t("Actions")}</span>
                </th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {page.data.items.map((job) => (
                <tr key={job.id}>
                  <td className="px-4 py-2">
                    <div className="font-medium text-slate-900">
                      {job.name} <span className="font-normal text-slate-500">#{job.id}</span>
                    </div>
                    <div className="text-xs text-slate-500">
                      {t("queue {queue}", { queue: job.queue })} · {describeArguments(job.arguments)}
                    </div>
                  </td>
                  <td className={`px-4 py-2 ${job.status === "failed" ? "font-medium text-red-700" : "text-slate-700"}`}>{LABELS[job.status]()}</td>
                  <td className="px-4 py-2 text-slate-700">{formatNumber(job.attempts)}</td>
                  <td className="px-4 py-2 text-slate-700">{job.scheduled_at ? formatDateTime(job.scheduled_at) : t("At once")}</td>
                  <td className="max-w-md px-4 py-2 font-mono text-xs break-words text-red-800">{job.last_error ?? ""}</td>
                  <td className="whitespace-nowrap px-4 py-2 text-right">
                    {(job.status === "failed" || job.status === "cancelled" || job.status === "aborted") && (
                      <button type="button" className={secondaryButtonClass} aria-label={t("Retry job {id}", { id: String(job.id) })} onClick={() => void act(job, "retry")}>
                        {t("Retry")}
                      </button>
                    )}
                    {job.status === "todo" && (
                      <button type="button" className={secondaryButtonClass} aria-label={t("Cancel job {id}", { id: String(job.id) })} onClick={() => void act(job, "cancel")}>
                        {t("Cancel")}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager pages={pages} nextCursor={page.state === "done" ? page.data.next_cursor : null} loading={page.state === "loading"} />
    </div>
  );
}

/** `user_id=4, kind="weekly"`: a job's arguments on one line. */
export function describeArguments(values: Record<string, unknown>): string {
  const parts = Object.entries(values).map(([name, value]) => `${name}=${JSON.stringify(value)}`);
  return parts.length ? parts.join(", ") : t("no arguments");
}
