import { useState, type FormEvent } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import { buildUrl, errorMessage } from "../api";
import { useAuth } from "../auth/AuthContext";
import { Breadcrumb, Flash } from "../components/Breadcrumb";
import { ReferenceLink } from "../components/ReferenceLink";
import { Pager, useCursorStack } from "../components/Pager";
import { Pending, buttonClass, secondaryButtonClass } from "../components/Status";
import { downloadBlob } from "../download";
import { inSentence, plainDecimal, t } from "../i18n";
import { includeAll, pagePath, relationFilters, resourceTitle, singularTitle, uploadsOf, useResourceInfo, type ResourceInfo } from "../resources";
import { displayValue, fieldsOf, type FieldKind, type FormField } from "../schemaForm";
import { useApi } from "../useApi";

export const PAGE_SIZE = 20;

interface Page {
  items: Record<string, unknown>[];
  next_cursor: string | null;
}

/** Columns that say little in a table; the detail page shows them. */
const HIDDEN_COLUMNS = new Set(["version", "owner_id", "updated_at"]);

/** The filter operators' names, in the current language. */
const operatorLabels = (): Record<string, string> => ({
  eq: t("is"),
  ne: t("is not"),
  contains: t("contains"),
  lt: "<",
  lte: "≤",
  gt: ">",
  gte: "≥",
  in: t("is one of (a,b)"),
  isnull: t("is empty (true/false)"),
});

/** The table's columns: `id` first, then the read schema's fields in order. */
export function columnsOf(info: ResourceInfo): FormField[] {
  const fields = fieldsOf(info.schemas.read, info.relations, uploadsOf(info)).filter((field) => !HIDDEN_COLUMNS.has(field.name));
  const id = fields.find((field) => field.name === "id");
  return id ? [id, ...fields.filter((field) => field !== id)] : fields;
}

/** The next `sort` when a column's header is pressed: ascending, descending, then the default. */
export function nextSort(current: string, column: string): string {
  if (current === column) return `-${column}`;
  if (current === `-${column}`) return "";
  return column;
}

/** The pager's own parameters, which an address does not set. */
const PAGER_PARAMETERS = new Set(["limit", "cursor", "include", "offset"]);

/** The address's parameters the list passes on: its filters, sort and search. */
function filterParams(params: URLSearchParams): Record<string, string> {
  return Object.fromEntries([...params].filter(([key]) => !PAGER_PARAMETERS.has(key)));
}

/** The filters in the page's address: `title__contains=milk` -> [title, contains, milk]. */
export function filtersOf(params: URLSearchParams): [string, string, string][] {
  const filters: [string, string, string][] = [];
  for (const [key, value] of params) {
    if (key === "sort" || key === "q" || PAGER_PARAMETERS.has(key)) continue;
    const [field = key, operator = "eq"] = key.split("__");
    filters.push([field, operator, value]);
  }
  return filters;
}

/** A filter's value as the API takes it: a number with a point (`12,5` typed in German),
 * a date and time in UTC (typed in the user's time zone); a list (`in`) as typed. */
export function filterValue(kind: FieldKind | undefined, operator: string, text: string): string {
  if (operator === "in" || operator === "isnull") return text;
  if (kind === "decimal" || kind === "number") return plainDecimal(text) ?? text;
  if (kind === "datetime") {
    const date = new Date(text);
    return Number.isNaN(date.getTime()) ? text : date.toISOString();
  }
  return text;
}

/** The input a filter's value is typed in: a date picker for dates, a text box else. */
function valueType(kind: FieldKind | undefined, operator: string): string {
  if (operator === "in" || operator === "isnull") return "text";
  return kind === "date" ? "date" : kind === "datetime" ? "datetime-local" : "text";
}

/** The page's address query for a sort, filters and a search (the inverse of `filtersOf`). */
export function queryOf(sort: string, filters: [string, string, string][], search = ""): URLSearchParams {
  const params = new URLSearchParams();
  if (search) params.set("q", search);
  if (sort) params.set("sort", sort);
  for (const [field, operator, value] of filters) params.append(operator === "eq" ? field : `${field}__${operator}`, value);
  return params;
}

export default function ResourceList() {
  const { name = "" } = useParams();
  const info = useResourceInfo(name);
  const title = resourceTitle({ name });

  return (
    <div>
      <Breadcrumb trail={[{ label: t("Dashboard"), to: "/" }]} current={title} />
      <Pending value={info} what={t("this page")} />
      {info.state === "done" && info.data === null && <p className="mt-6 text-slate-600">{t("This API has no resource called “{name}”.", { name })}</p>}
      {info.state === "done" && info.data && <ResourceTable key={info.data.name} info={info.data} across={relationFilters(info.all, info.data)} />}
    </div>
  );
}

/** `across`: the filters across relations the list takes, with their labels. */
function ResourceTable({ info, across }: { info: ResourceInfo; across: Record<string, string> }) {
  const title = resourceTitle(info);
  const singular = singularTitle(info);
  const [params, setParams] = useSearchParams();
  const query = params.toString();
  const pages = useCursorStack(query);
  const page = useApi<Page>(
    buildUrl(info.path, { limit: PAGE_SIZE, cursor: pages.cursor, include: includeAll(info), ...filterParams(params) }),
  );
  const columns = columnsOf(info);
  const sort = params.get("sort") ?? "";
  const search = params.get("q") ?? "";
  const filters = filtersOf(params);

  return (
    <>
      <div className="mt-2 flex flex-wrap items-center justify-between gap-3">
        <h1 className="text-2xl font-semibold tracking-tight">{title}</h1>
        <div className="flex flex-wrap gap-2">
          <ExportButton info={info} query={new URLSearchParams(filterParams(params)).toString()} />
          {info.permissions.create && (
            <Link to={pagePath(info.name, "new")} className={buttonClass}>
              {t("New {name}", { name: inSentence(singular) })}
            </Link>
          )}
        </div>
      </div>
      {info.owned && <p className="mt-1 text-sm text-slate-600">{t("Only your own {name} are shown.", { name: inSentence(title) })}</p>}
      <Flash />

      {info.searchable.length > 0 && (
        <SearchBox key={search} title={title} search={search} onSearch={(words) => setParams(queryOf(sort, filters, words))} />
      )}
      {info.filterable.length + Object.keys(across).length > 0 && (
        <FilterBar
          info={info}
          across={across}
          filters={filters}
          // A field's condition once: a second "title contains" replaces the first.
          onAdd={(field, operator, value) => {
            const others = filters.filter(([f, o]) => f !== field || o !== operator);
            setParams(queryOf(sort, [...others, [field, operator, value]], search));
          }}
          onRemove={(index) => setParams(queryOf(sort, filters.filter((_, i) => i !== index), search))}
        />
      )}

      <Pending value={page} what={inSentence(title)} />
      {page.state === "done" && page.data.items.length === 0 && (
        <p className="mt-6 rounded-lg border border-dashed border-slate-300 p-8 text-center text-slate-600">
          {pages.page > 1
            ? t("No more items.")
            : search
              ? t("Nothing matches “{search}”.", { search })
              : filters.length > 0
                ? t("Nothing matches these filters.")
                : t("Nothing here yet.")}
        </p>
      )}
      {page.state === "done" && page.data.items.length > 0 && (
        <div className="mt-4 overflow-x-auto rounded-lg bg-white shadow-sm ring-1 ring-slate-200">
          <table className="min-w-full divide-y divide-slate-200 text-sm">
            <caption className="sr-only">
              {t("{title}, page {page}", { title, page: pages.page })}
            </caption>
            <thead className="bg-slate-50">
              <tr>
                {columns.map((column) => {
                  const sortable = info.sortable.includes(column.name);
                  const direction = sort === column.name ? "ascending" : sort === `-${column.name}` ? "descending" : undefined;
                  return (
                    <th key={column.name} scope="col" aria-sort={direction} className="whitespace-nowrap px-4 py-3 text-left font-semibold text-slate-700">
                      {sortable ? (
                        <button
                          type="button"
                          aria-label={t("Sort by {column}", { column: inSentence(column.label) })}
                          onClick={() => setParams(queryOf(nextSort(sort, column.name), filters, search))}
                          className="inline-flex items-center gap-1 hover:text-indigo-600"
                        >
                          {column.label}
                          <span aria-hidden="true" className="text-xs text-slate-400">
                            {direction === "ascending" ? "▲" : direction === "descending" ? "▼" : "↕"}
                          </span>
                        </button>
                      ) : (
                        column.label
                      )}
                    </th>
                  );
                })}
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {page.data.items.map((item, row) => (
                <tr key={String(item.id ?? row)} className="hover:bg-slate-50">
                  {columns.map((column) => (
                    <td key={column.name} className="max-w-xs truncate px-4 py-2 text-slate-800" title={displayValue(item[column.name], column.kind)}>
                      {column.name === "id" && info.permissions.read ? (
                        <Link to={pagePath(info.name, String(item.id))} className="font-medium text-indigo-600 hover:text-indigo-500">
                          {String(item.id)}
                        </Link>
                      ) : column.relation ? (
                        <ReferenceLink info={info} field={column.name} row={item} />
                      ) : column.upload ? (
                        item[column.name] ? t("Attached") : "—"
                      ) : (
                        displayValue(item[column.name], column.kind)
                      )}
                    </td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager pages={pages} nextCursor={page.state === "done" ? page.data.next_cursor : null} loading={page.state === "loading"} />
    </>
  );
}

/** Full-text search of the list (`?q=`): best matches first, unless a column sorts it. */
function SearchBox({ title, search, onSearch }: { title: string; search: string; onSearch: (words: string) => void }) {
  const [words, setWords] = useState(search);
  return (
    <form
      role="search"
      aria-label={t("Search {name}", { name: inSentence(title) })}
      onSubmit={(event) => {
        event.preventDefault();
        onSearch(words.trim());
      }}
      className="mt-4 flex flex-wrap items-center gap-2"
    >
      <input
        type="search"
        aria-label={t("Words to find in {name}", { name: inSentence(title) })}
        placeholder={t("Search {name}…", { name: inSentence(title) })}
        value={words}
        onChange={(event) => setWords(event.target.value)}
        maxLength={200}
        className="w-full max-w-sm rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-200"
      />
      <button type="submit" className={secondaryButtonClass}>
        {t("Search")}
      </button>
      {search && (
        <button type="button" onClick={() => onSearch("")} className="text-sm font-medium text-indigo-600 hover:text-indigo-500">
          {t("Clear search")}
        </button>
      )}
    </form>
  );
}

interface FilterBarProps {
  info: ResourceInfo;
  across: Record<string, string>;
  filters: [string, string, string][];
  onAdd: (field: string, operator: string, value: string) => void;
  onRemove: (index: number) => void;
}

function FilterBar({ info, across, filters, onAdd, onRemove }: FilterBarProps) {
  const fields = [...info.filterable, ...Object.keys(across)];
  const [field, setField] = useState(fields[0] ?? "");
  const [operator, setOperator] = useState("eq");
  const [value, setValue] = useState("");
  const own = fieldsOf(info.schemas.read, info.relations, uploadsOf(info));
  const labels: Record<string, string> = { ...Object.fromEntries(own.map((f) => [f.name, f.label])), ...across };
  const kind = own.find((f) => f.name === field)?.kind;
  const label = (name: string) => labels[name] ?? name;
  const operators = operatorLabels();

  function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (!value.trim()) return;
    onAdd(field, operator, filterValue(kind, operator, value.trim()));
    setValue("");
  }

  const control = "rounded-md border border-slate-300 bg-white px-2 py-1.5 text-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-200";
  return (
    <div className="mt-4">
      <form onSubmit={submit} aria-label={t("Filter")} className="flex flex-wrap items-end gap-2">
        <label className="text-sm">
          <span className="block text-slate-600">{t("Field")}</span>
          <select value={field} onChange={(e) => setField(e.target.value)} className={control}>
            {fields.map((name) => (
              <option key={name} value={name}>
                {label(name)}
              </option>
            ))}
          </select>
        </label>
        <label className="text-sm">
          <span className="block text-slate-600">{t("Condition")}</span>
          <select value={operator} onChange={(e) => setOperator(e.target.value)} className={control}>
            {info.operators.map((name) => (
              <option key={name} value={name}>
                {operators[name] ?? name}
              </option>
            ))}
          </select>
        </label>
        <label className="text-sm">
          <span className="block text-slate-600">{t("Value")}</span>
          <input type={valueType(kind, operator)} value={value} onChange={(e) => setValue(e.target.value)} className={control} />
        </label>
        <button type="submit" className={secondaryButtonClass}>
          {t("Add filter")}
        </button>
      </form>
      {filters.length > 0 && (
        <ul aria-label={t("Active filters")} className="mt-3 flex flex-wrap gap-2">
          {filters.map(([name, op, text], index) => (
            <li key={`${name}-${op}-${text}-${index}`} className="inline-flex items-center gap-1 rounded-full bg-indigo-50 px-3 py-1 text-sm text-indigo-800">
              {t("{field} {operator} “{value}”", { field: label(name), operator: operators[op] ?? op, value: text })}
              <button
                type="button"
                onClick={() => onRemove(index)}
                aria-label={t("Remove filter {field} {operator} {value}", { field: label(name), operator: operators[op] ?? op, value: text })}
                className="ml-1 rounded-full px-1 text-indigo-600 hover:bg-indigo-100"
              >
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/** Every row the page's filters select, as a CSV file (`GET <path>/export.csv`). */
function ExportButton({ info, query }: { info: ResourceInfo; query: string }) {
  const { request } = useAuth();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function exportRows() {
    setBusy(true);
    setError(null);
    try {
      const text = await request<string>(`${info.path}/export.csv${query ? `?${query}` : ""}`);
      downloadBlob(new Blob([text ?? ""], { type: "text/csv" }), `${info.name}.csv`);
    } catch (caught) {
      setError(t("Could not export: {error}", { error: errorMessage(caught) }));
    } finally {
      setBusy(false);
    }
  }

  return (
    <>
      <button type="button" onClick={() => void exportRows()} disabled={busy} className={secondaryButtonClass}>
        {busy ? t("Exporting…") : t("Export CSV")}
      </button>
      {error && (
        <p role="alert" className="basis-full text-sm text-red-700">
          {error}
        </p>
      )}
    </>
  );
}
