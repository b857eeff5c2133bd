import { Link } from "react-router";
import { pagePath, relationOf, rowLabel, type ResourceInfo } from "../resources";

interface Props {
  info: Pick<ResourceInfo, "relations">;
  /** The field holding the id (`category_id`). */
  field: string;
  /** The row, with the relation's row included (`?include=category`). */
  row: Record<string, unknown>;
}

const linkClass = "font-medium text-indigo-600 hover:text-indigo-500";

/** The row a reference names, by its label, linked to its page; `#id` when the caller
 * may not see it (the API includes null), a dash when there is none. The rows of a
 * many-to-many link, each so, separated by commas. */
export function ReferenceLink({ info, field, row }: Props) {
  const id = row[field];
  const [name, relation] = relationOf(info, field) ?? [];
  const included = name ? row[name] : undefined;
  if (relation?.many) {
    const rows = Array.isArray(included) ? (included as Record<string, unknown>[]) : [];
    if (rows.length === 0) return <>—</>;
    return (
      <>
        {rows.map((linked, index) => (
          <span key={String(linked.id)}>
            {index > 0 && ", "}
            <Link to={pagePath(relation.resource, String(linked.id))} className={linkClass}>
              {rowLabel(linked, relation.display)}
            </Link>
          </span>
        ))}
      </>
    );
  }
  if (id === null || id === undefined) return <>—</>;
  if (!relation || !included || typeof included !== "object") return <>#{String(id)}</>;
  return (
    <Link to={pagePath(relation.resource, String(id))} className={linkClass}>
      {rowLabel(included as Record<string, unknown>, relation.display)}
    </Link>
  );
}
