import { useState } from "react";
import { Link, useParams } from "react-router";
import { buildUrl, errorMessage } from "../api";
import { ErrorBox, Loading, secondaryButtonClass } from "../components/Status";
import { resourceTitle } from "../resources";
import { useApi } from "../useApi";

export const PAGE_SIZE = 20;

interface Page {
  items: Record<string, unknown>[];
  next_cursor: string | null;
}

/** The columns of a page: every field of its items, `id` first, in the order they come. */
export function columnsOf(items: Record<string, unknown>[]): string[] {
  const seen = new Set<string>();
  for (const item of items) for (const key of Object.keys(item)) seen.add(key);
  const columns = [...seen];
  return columns.includes("id") ? ["id", ...columns.filter((c) => c !== "id")] : columns;
}

export function formatCell(value: unknown): string {
  if (value === null || value === undefined) return "—";
  if (typeof value === "boolean") return value ? "yes" : "no";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

export default function ResourceList() {
  const { name = "" } = useParams();
  // The cursors of the pages seen so far (the first page has none): back and forth.
  const [cursors, setCursors] = useState<{ name: string; stack: (string | null)[] }>({ name, stack: [null] });
  const stack = cursors.name === name ? cursors.stack : [null];
  const cursor = stack[stack.length - 1] ?? null;
  const page = useApi<Page>(buildUrl(`/api/${encodeURIComponent(name)}`, { limit: PAGE_SIZE, cursor }));
  const title = resourceTitle({ name });

  const columns = page.state === "done" ? columnsOf(page.data.items) : [];

  return (
    <div>
      <nav aria-label="Breadcrumb" className="text-sm text-slate-500">
        <Link to="/" className="hover:text-slate-700">
          Dashboard
        </Link>{" "}
        / <span aria-current="page">{title}</span>
      </nav>
      <h1 className="mt-2 text-2xl font-semibold tracking-tight">{title}</h1>

      {page.state === "loading" && <Loading />}
      {page.state === "error" && (
        <div className="mt-4">
          <ErrorBox onRetry={page.reload}>Could not load {title.toLowerCase()}: {errorMessage(page.error)}</ErrorBox>
        </div>
      )}
      {page.state === "done" && page.data.items.length === 0 && (
        <p className="mt-6 rounded-lg border border-dashed border-slate-300 p-8 text-center text-slate-600">
          {stack.length > 1 ? "No more items." : "Nothing here yet."}
        </p>
      )}
      {page.state === "done" && page.data.items.length > 0 && (
        <div className="mt-6 overflow-x-auto rounded-lg bg-white shadow-sm ring-1 ring-slate-200">
          <table className="min-w-full divide-y divide-slate-200 text-sm">
            <caption className="sr-only">
              {title}, page {stack.length}
            </caption>
            <thead className="bg-slate-50">
              <tr>
                {columns.map((column) => (
                  <th key={column} scope="col" className="whitespace-nowrap px-4 py-3 text-left font-semibold text-slate-700">
                    {column}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {page.data.items.map((item, row) => (
                <tr key={String(item.id ?? row)} className="hover:bg-slate-50">
                  {columns.map((column) => (
                    <td key={column} className="max-w-xs truncate px-4 py-2 text-slate-800" title={formatCell(item[column])}>
                      {formatCell(item[column])}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {(stack.length > 1 || (page.state === "done" && page.data.next_cursor)) && (
        <div className="mt-4 flex gap-3">
          <button
            type="button"
            className={secondaryButtonClass}
            disabled={stack.length <= 1 || page.state === "loading"}
            onClick={() => setCursors({ name, stack: [null] })}
          >
            First page
          </button>
          <button
            type="button"
            className={secondaryButtonClass}
            disabled={page.state !== "done" || !page.data.next_cursor}
            onClick={() => {
              if (page.state === "done" && page.data.next_cursor) {
                setCursors({ name, stack: [...stack, page.data.next_cursor] });
              }
            }}
          >
            Next page
          </button>
        </div>
      )}
    </div>
  );
}
