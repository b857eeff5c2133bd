// The API's description of its resources (GET /api/meta/resources).

import { useApi, type Loadable } from "./useApi";

/** One entry of GET /api/meta/resources (stackkit.resources.meta.ResourceInfo). */
export interface ResourceInfo {
  name: string;
  path: string;
  public: boolean;
  owned: boolean;
  schemas: Record<"create" | "update" | "read", JsonSchema>;
  filterable: string[];
  sortable: string[];
  default_sort: string;
  operators: string[];
  permissions: Record<"list" | "create" | "read" | "update" | "delete", boolean>;
}

export interface JsonSchema {
  title?: string;
  description?: string;
  properties?: Record<string, { title?: string; type?: string; [key: string]: unknown }>;
  required?: string[];
  [key: string]: unknown;
}

export function resourceTitle(info: Pick<ResourceInfo, "name">): string {
  const words = info.name.replace(/[-_]+/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** "Note" for a resource whose read schema is `NoteOut` (or `NoteRead`, `Note`). */
export function singularTitle(info: Pick<ResourceInfo, "name" | "schemas">): string {
  const title = info.schemas.read.title ?? "";
  const model = title.replace(/(Out|Read|Response|Schema)$/, "");
  if (!model) return resourceTitle(info).replace(/s$/, "");
  // "TodoItem" -> "Todo item"
  const words = model.replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** One row of a resource, as the API reads it out. */
export type Row = Record<string, unknown> & { id: number | string; version?: number };

/** `If-Match` for a row: its version is its ETag, so a stale change is refused (412). */
export function ifMatch(row: Row): Record<string, string> {
  return typeof row.version === "number" ? { "If-Match": `"${row.version}"` } : {};
}

/** The API path of one row. */
export function rowPath(info: Pick<ResourceInfo, "path">, id: string | number): string {
  return `${info.path}/${encodeURIComponent(String(id))}`;
}

/** The SPA path of a resource's pages: `/r/notes`, `/r/notes/3`, `/r/notes/3/edit`. */
export function pagePath(name: string, ...rest: (string | number)[]): string {
  return `/r/${[name, ...rest].map((part) => encodeURIComponent(String(part))).join("/")}`;
}

/** The description of resource `name`: loading, an error, or done (null when no such resource). */
export function useResourceInfo(name: string): Loadable<ResourceInfo | null> & { reload: () => void } {
  const all = useApi<ResourceInfo[]>("/api/meta/resources");
  if (all.state !== "done") return all;
  return { state: "done", data: all.data.find((info) => info.name === name) ?? null, reload: all.reload };
}
