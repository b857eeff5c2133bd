import { useNavigate, useParams, useSearchParams } from "react-router";
import { useAuth } from "../auth/AuthContext";
import { Breadcrumb } from "../components/Breadcrumb";
import { SchemaForm } from "../components/SchemaForm";
import { Pending } from "../components/Status";
import { inSentence, t } from "../i18n";
import { ifMatch, pagePath, resourceTitle, rowPath, singularTitle, uploadsOf, useResourceInfo, type ResourceInfo, type Row } from "../resources";
import { fieldsOf, initialValues, type FormField, type FormValues } from "../schemaForm";
import { useApi } from "../useApi";

/** The create form (`/r/notes/new`) and the edit form (`/r/notes/3/edit`) of any resource. */
export default function ResourceForm() {
  const { name = "", id } = useParams();
  const info = useResourceInfo(name);
  return (
    <div>
      <Pending value={info} what={t("this page")} />
      {info.state === "done" && info.data === null && <p className="text-slate-600">{t("This API has no resource called “{name}”.", { name })}</p>}
      {info.state === "done" && info.data && (id === undefined ? <CreateForm info={info.data} /> : <EditForm info={info.data} id={id} />)}
    </div>
  );
}

function Header({ info, current, id }: { info: ResourceInfo; current: string; id?: string }) {
  const trail = [{ label: t("Dashboard"), to: "/" }, { label: resourceTitle(info), to: pagePath(info.name) }];
  if (id !== undefined) trail.push({ label: `${singularTitle(info)} ${id}`, to: pagePath(info.name, id) });
  return (
    <>
      <Breadcrumb trail={trail} current={current} />
      <h1 className="mt-2 text-2xl font-semibold tracking-tight">{current}</h1>
    </>
  );
}

/** A new row's values: the schema's defaults, and the fields the address names
 * (`/r/notes/new?category_id=3`, from a category's "New note"). */
export function createValues(fields: FormField[], params: URLSearchParams): FormValues {
  const values = initialValues(fields);
  for (const field of fields) {
    const given = params.get(field.name);
    if (given !== null && field.kind !== "checkbox") values[field.name] = given;
  }
  return values;
}

function CreateForm({ info }: { info: ResourceInfo }) {
  const { request } = useAuth();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const singular = singularTitle(info);
  const fields = fieldsOf(info.schemas.create, info.relations, uploadsOf(info));
  return (
    <>
      <Header info={info} current={t("New {name}", { name: inSentence(singular) })} />
      <SchemaForm
        id="create"
        fields={fields}
        initial={createValues(fields, params)}
        submitLabel={t("Create")}
        busyLabel={t("Creating…")}
        onCancel={() => navigate(pagePath(info.name))}
        onSubmit={async (body) => {
          const row = await request<Row>(info.path, { method: "POST", body });
          navigate(pagePath(info.name, row.id), { replace: true, state: { flash: t("{name} created.", { name: singular }) } });
        }}
      />
    </>
  );
}

/** The update schema's fields, required where creating them is (a PATCH makes none required). */
export function editFields(info: ResourceInfo): FormField[] {
  const required = new Set(info.schemas.create.required ?? []);
  return fieldsOf(info.schemas.update, info.relations, uploadsOf(info)).map((field) => ({ ...field, required: required.has(field.name) }));
}

function EditForm({ info, id }: { info: ResourceInfo; id: string }) {
  const { request } = useAuth();
  const navigate = useNavigate();
  const row = useApi<Row>(rowPath(info, id));
  const heading = `${singularTitle(info)} ${id}`;
  const fields = editFields(info);
  return (
    <>
      <Header info={info} current={t("Edit {name}", { name: inSentence(heading) })} id={id} />
      <Pending value={row} what={inSentence(heading)} />
      {row.state === "done" && (
        <SchemaForm
          id="edit"
          fields={fields}
          initial={initialValues(fields, row.data)}
          changesOnly
          submitLabel={t("Save changes")}
          busyLabel={t("Saving…")}
          onCancel={() => navigate(pagePath(info.name, id))}
          onSubmit={async (body) => {
            if (Object.keys(body).length > 0) {
              await request<Row>(rowPath(info, id), { method: "PATCH", body, headers: ifMatch(row.data) });
            }
            navigate(pagePath(info.name, id), { replace: true, state: { flash: t("{name} saved.", { name: heading }) } });
          }}
        />
      )}
    </>
  );
}
