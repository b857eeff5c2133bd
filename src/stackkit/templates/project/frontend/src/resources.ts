// The API's description of its resources (GET /api/meta/resources).

import { useApi, type Loadable } from "./useApi";
import { inSentence } from "./i18n";

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
  /** The field that names a row where another refers to it. */
  display: string;
  /** The fields `?q=` searches; empty: no search. */
  searchable: string[];
  /** The resources this one refers to, by relation name (`category`). */
  relations: Record<string, RelationInfo>;
  /** The file fields and what each takes (stackkit.resources.meta.FileFieldInfo). */
  files?: Record<string, FileFieldInfo>;
  permissions: Record<"list" | "create" | "read" | "update" | "delete", boolean>;
}

/** What a file field takes; its uploads start at `<path>/files/<field>`. */
export interface FileFieldInfo {
  image: boolean;
  max_size: number;
  /** Content types (`image/*` for a family); empty: any. */
  types: string[];
}

/** A file field as a form uploads to it. */
export interface Upload extends FileFieldInfo {
  url: string;
}

/** The file fields of a resource, each with the address its uploads start at. */
export function uploadsOf(info: ResourceInfo): Record<string, Upload> {
  return Object.fromEntries(
    Object.entries(info.files ?? {}).map(([field, file]) => [field, { ...file, url: `${info.path}/files/${field}` }]),
  );
}

/** A reference to another resource's rows (stackkit.resources.meta.RelationInfo). */
export interface RelationInfo {
  /** The column holding the id (`category_id`). */
  field: string;
  resource: string;
  path: string;
  /** The field that labels the rows referred to. */
  display: string;
  /** A many-to-many link: `field` lists ids (`tag_ids`). */
  many?: boolean;
}

/** The relation a field holds the id of (`category_id` -> category), if any. */
export function relationOf(info: Pick<ResourceInfo, "relations">, field: string): [string, RelationInfo] | undefined {
  return Object.entries(info.relations ?? {}).find(([, relation]) => relation.field === field);
}

/** The resources whose rows refer to `info`'s, each with the relation that does and
 * the list filter that finds the rows referring to one (`category_id`, `tags.id`),
 * where the child's list takes it. */
export function childrenOf(all: ResourceInfo[], info: ResourceInfo): { child: ResourceInfo; relation: RelationInfo; filter: string }[] {
  return all.flatMap((child) =>
    Object.entries(child.relations ?? {})
      .filter(([, relation]) => relation.resource === info.name)
      .map(([name, relation]) => ({ child, relation, filter: relation.many ? `${name}.id` : relation.field }))
      .filter(({ child, filter }) => child.permissions.list && (filter.endsWith(".id") || child.filterable.includes(filter))),
  );
}

/** The filters across `info`'s relations its list takes, each with its label: a
 *  related row's display field (`category.name`, `tags.name` through a many-to-many
 *  link), where the related resource filters by it. */
export function relationFilters(all: ResourceInfo[], info: ResourceInfo): Record<string, string> {
  return Object.fromEntries(
    Object.entries(info.relations ?? {}).flatMap(([name, relation]) => {
      const target = all.find((other) => other.name === relation.resource);
      if (!target?.filterable.includes(relation.display)) return [];
      return [[`${name}.${relation.display}`, `${relationTitle(name)}: ${inSentence(relationTitle(relation.display))}`]];
    }),
  );
}

/** `include=` for every relation of `info`: their rows come with each row. */
export function includeAll(info: Pick<ResourceInfo, "relations">): string | undefined {
  const names = Object.keys(info.relations ?? {});
  return names.length > 0 ? names.join(",") : undefined;
}

/** "Category" for `category`, "Blog post" for `blog_post`. */
export function relationTitle(name: string): string {
  const words = name.replace(/[-_]+/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** How a row that another refers to is named: its display field, else `#id`. */
export function rowLabel(row: Record<string, unknown>, display: string): string {
  const value = row[display];
  return value === null || value === undefined || value === "" || display === "id" ? `#${String(row.id)}` : String(value);
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

/** The description of resource `name`: loading, an error, or done (null when no such
 * resource), with `all` the resources of the API. */
export function useResourceInfo(name: string): Loadable<ResourceInfo | null> & { reload: () => void; all: ResourceInfo[] } {
  const all = useApi<ResourceInfo[]>("/api/meta/resources");
  if (all.state !== "done") return { ...all, all: [] };
  return { state: "done", data: all.data.find((info) => info.name === name) ?? null, reload: all.reload, all: all.data };
}
