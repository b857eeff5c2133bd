import { useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { errorMessage } from "../api";
import { useAuth } from "../auth/AuthContext";
import { Breadcrumb, Flash } from "../components/Breadcrumb";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { FileValue } from "../components/FileUpload";
import { ReferenceLink } from "../components/ReferenceLink";
import { Pending, buttonClass, secondaryButtonClass } from "../components/Status";
import { inSentence, t } from "../i18n";
import { buildUrl } from "../api";
import { childrenOf, ifMatch, includeAll, pagePath, resourceTitle, rowLabel, rowPath, singularTitle, uploadsOf, useResourceInfo } from "../resources";
import type { RelationInfo, ResourceInfo, Row } from "../resources";
import { displayValue, fieldsOf } from "../schemaForm";
import { useApi } from "../useApi";

export default function ResourceDetail() {
  const { name = "", id = "" } = useParams();
  const info = useResourceInfo(name);
  const title = resourceTitle({ name });
  return (
    <div>
      <Pending value={info} what={t("this page")} />
      {info.state === "done" && info.data === null && <p className="text-slate-600">{t("This API has no resource called “{name}”.", { name: title })}</p>}
      {info.state === "done" && info.data && <Detail key={`${name}/${id}`} info={info.data} id={id} all={info.all} />}
    </div>
  );
}

function Detail({ info, id, all }: { info: ResourceInfo; id: string; all: ResourceInfo[] }) {
  const { request } = useAuth();
  const navigate = useNavigate();
  const row = useApi<Row>(buildUrl(rowPath(info, id), { include: includeAll(info) }));
  const [confirming, setConfirming] = useState(false);
  const [deleting, setDeleting] = useState(false);
  const [deleteError, setDeleteError] = useState<string | null>(null);
  const title = resourceTitle(info);
  const heading = `${singularTitle(info)} ${id}`;

  async function remove(current: Row) {
    setDeleting(true);
    setDeleteError(null);
    try {
      await request<void>(rowPath(info, id), { method: "DELETE", headers: ifMatch(current) });
      navigate(pagePath(info.name), { replace: true, state: { flash: t("{name} was deleted.", { name: heading }) } });
    } catch (error) {
      setDeleteError(errorMessage(error));
      setDeleting(false);
    }
  }

  return (
    <>
      <Breadcrumb trail={[{ label: t("Dashboard"), to: "/" }, { label: title, to: pagePath(info.name) }]} current={heading} />
      <div className="mt-2 flex flex-wrap items-center justify-between gap-3">
        <h1 className="text-2xl font-semibold tracking-tight">{heading}</h1>
        {row.state === "done" && (
          <div className="flex gap-3">
            {info.permissions.update && (
              <Link to={pagePath(info.name, id, "edit")} className={secondaryButtonClass}>
                {t("Edit")}
              </Link>
            )}
            {info.permissions.delete && (
              <button type="button" onClick={() => setConfirming(true)} className={`${buttonClass} bg-red-600 hover:bg-red-500`}>
                {t("Delete")}
              </button>
            )}
          </div>
        )}
      </div>
      <Flash />
      <Pending value={row} what={inSentence(heading)} />
      {row.state === "done" && (
        <dl className="mt-6 divide-y divide-slate-100 rounded-lg bg-white shadow-sm ring-1 ring-slate-200">
          {fieldsOf(info.schemas.read, info.relations, uploadsOf(info)).map((field) => (
            <div key={field.name} className="grid gap-1 px-4 py-3 sm:grid-cols-3 sm:gap-4">
              <dt className="text-sm font-medium text-slate-600">{field.label}</dt>
              <dd className="whitespace-pre-wrap break-words text-sm text-slate-900 sm:col-span-2">
                {field.relation ? (
                  <ReferenceLink info={info} field={field.name} row={row.data} />
                ) : field.upload && row.data[field.name] ? (
                  <FileValue path={rowPath(info, id)} field={field.name} image={field.upload.image} />
                ) : (
                  displayValue(row.data[field.name], field.kind)
                )}
              </dd>
            </div>
          ))}
        </dl>
      )}
      {row.state === "done" &&
        childrenOf(all, info).map(({ child, relation, filter }) => (
          <Children key={`${child.name}-${relation.field}`} child={child} relation={relation} filter={filter} parentId={id} />
        ))}
      {confirming && row.state === "done" && (
        <ConfirmDialog
          title={t("Delete {name}?", { name: inSentence(heading) })}
          message={t("This cannot be undone.")}
          confirmLabel={t("Delete")}
          busy={deleting}
          error={deleteError}
          onConfirm={() => void remove(row.data)}
          onCancel={() => {
            setConfirming(false);
            setDeleteError(null);
          }}
        />
      )}
    </>
  );
}

/** How many of a row's children its page lists; the rest are a click away. */
const CHILDREN_SHOWN = 10;

interface ChildrenProps {
  child: ResourceInfo;
  relation: RelationInfo;
  /** The child list's filter for the rows that refer to this one (`category_id`, `tags.id`). */
  filter: string;
  parentId: string;
}

/** The rows of `child` that refer to this one (`notes` of a category), and a button
 * that makes one with the reference filled in. */
function Children({ child, relation, filter, parentId }: ChildrenProps) {
  const title = resourceTitle(child);
  const headingId = `children-${child.name}-${relation.field}`;
  const rows = useApi<{ items: Row[]; next_cursor: string | null }>(buildUrl(child.path, { [filter]: parentId, limit: CHILDREN_SHOWN }));
  const filtered = `${pagePath(child.name)}?${new URLSearchParams({ [filter]: parentId }).toString()}`;
  return (
    <section aria-labelledby={headingId} className="mt-8">
      <div className="flex flex-wrap items-center justify-between gap-3">
        <h2 id={headingId} className="text-lg font-semibold tracking-tight">
          {title}
        </h2>
        {child.permissions.create && (
          <Link to={`${pagePath(child.name, "new")}?${new URLSearchParams({ [relation.field]: parentId }).toString()}`} className={secondaryButtonClass}>
            {t("New {name}", { name: inSentence(singularTitle(child)) })}
          </Link>
        )}
      </div>
      <Pending value={rows} what={inSentence(title)} />
      {rows.state === "done" && rows.data.items.length === 0 && <p className="mt-2 text-sm text-slate-600">{t("None yet.")}</p>}
      {rows.state === "done" && rows.data.items.length > 0 && (
        <ul className="mt-2 divide-y divide-slate-100 rounded-lg bg-white shadow-sm ring-1 ring-slate-200">
          {rows.data.items.map((item) => (
            <li key={String(item.id)} className="px-4 py-2 text-sm">
              <Link to={pagePath(child.name, String(item.id))} className="font-medium text-indigo-600 hover:text-indigo-500">
                {rowLabel(item, child.display)}
              </Link>
            </li>
          ))}
        </ul>
      )}
      {rows.state === "done" && rows.data.next_cursor && (
        <Link to={filtered} className="mt-2 inline-block text-sm font-medium text-indigo-600 hover:text-indigo-500">
          {t("All {name}", { name: inSentence(title) })}
        </Link>
      )}
    </section>
  );
}
