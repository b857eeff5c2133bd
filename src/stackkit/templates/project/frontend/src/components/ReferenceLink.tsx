import { Link } from "react-router";
import { pagePath, relationOf, rowLabel, type ResourceInfo } from "../resources";

interface Props {
  info: Pick<ResourceInfo, "relations">;
  /** The field holding the id (`category_id`). */
  field: string;
  /** The row, with the relation's row included (`?include=category`). */
  row: Record<string, unknown>;
}

/** The row a reference names, by its label, linked to its page; `#id` when the caller
 * may not see it (the API includes null), a dash when there is none. */
export function ReferenceLink({ info, field, row }: Props) {
  const id = row[field];
  if (id === null || id === undefined) return <>—</>;
  const [name, relation] = relationOf(info, field) ?? [];
  const included = name ? row[name] : undefined;
  if (!relation || !included || typeof included !== "object") return <>#{String(id)}</>;
  return (
    <Link to={pagePath(relation.resource, String(id))} className="font-medium text-indigo-600 hover:text-indigo-500">
      {rowLabel(included as Record<string, unknown>, relation.display)}
    </Link>
  );
}
