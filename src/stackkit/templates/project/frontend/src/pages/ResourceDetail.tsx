import { useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { errorMessage } from "../api";
import { useAuth } from "../auth/AuthContext";
import { Breadcrumb, Flash } from "../components/Breadcrumb";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { Pending, buttonClass, secondaryButtonClass } from "../components/Status";
import { ifMatch, pagePath, resourceTitle, rowPath, singularTitle, useResourceInfo, type ResourceInfo, type Row } from "../resources";
import { displayValue, fieldsOf } from "../schemaForm";
import { useApi } from "../useApi";

export default function ResourceDetail() {
  const { name = "", id = "" } = useParams();
  const info = useResourceInfo(name);
  const title = resourceTitle({ name });
  return (
    <div>
      <Pending value={info} what="this page" />
      {info.state === "done" && info.data === null && <p className="text-slate-600">This API has no resource called “{title}”.</p>}
      {info.state === "done" && info.data && <Detail info={info.data} id={id} />}
    </div>
  );
}

function Detail({ info, id }: { info: ResourceInfo; id: string }) {
  const { request } = useAuth();
  const navigate = useNavigate();
  const row = useApi<Row>(rowPath(info, id));
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
      navigate(pagePath(info.name), { replace: true, state: { flash: `${heading} was deleted.` } });
    } catch (error) {
      setDeleteError(errorMessage(error));
      setDeleting(false);
    }
  }

  return (
    <>
      <Breadcrumb trail={[{ label: "Dashboard", to: "/" }, { label: title, to: pagePath(info.name) }]} current={heading} />
      <div className="mt-2 flex flex-wrap items-center justify-between gap-3">
        <h1 className="text-2xl font-semibold tracking-tight">{heading}</h1>
        {row.state === "done" && (
          <div className="flex gap-3">
            {info.permissions.update && (
              <Link to={pagePath(info.name, id, "edit")} className={secondaryButtonClass}>
                Edit
              </Link>
            )}
            {info.permissions.delete && (
              <button type="button" onClick={() => setConfirming(true)} className={`${buttonClass} bg-red-600 hover:bg-red-500`}>
                Delete
              </button>
            )}
          </div>
        )}
      </div>
      <Flash />
      <Pending value={row} what={heading.toLowerCase()} />
      {row.state === "done" && (
        <dl className="mt-6 divide-y divide-slate-100 rounded-lg bg-white shadow-sm ring-1 ring-slate-200">
          {fieldsOf(info.schemas.read).map((field) => (
            <div key={field.name} className="grid gap-1 px-4 py-3 sm:grid-cols-3 sm:gap-4">
              <dt className="text-sm font-medium text-slate-600">{field.label}</dt>
              <dd className="whitespace-pre-wrap break-words text-sm text-slate-900 sm:col-span-2">{displayValue(row.data[field.name])}</dd>
            </div>
          ))}
        </dl>
      )}
      {confirming && row.state === "done" && (
        <ConfirmDialog
          title={`Delete ${heading.toLowerCase()}?`}
          message="This cannot be undone."
          confirmLabel="Delete"
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
