// The API's description of its resources (GET /api/meta/resources).

/** One entry of GET /api/meta/resources (stackkit.http.meta.ResourceInfo). */
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
  [key: string]: unknown;
}

export function resourceTitle(info: Pick<ResourceInfo, "name">): string {
  const words = info.name.replace(/[-_]+/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}
