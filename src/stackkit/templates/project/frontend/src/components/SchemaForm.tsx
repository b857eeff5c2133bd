import { useState, type FormEvent } from "react";
import { ApiError, errorMessage } from "../api";
import { localDecimal, t } from "../i18n";
import { FormValueError, toBody, type FormField, type FormValues } from "../schemaForm";
import { FieldFrame, type ControlProps } from "./Field";
import { FileUpload } from "./FileUpload";
import { ReferencePicker } from "./ReferencePicker";
import { buttonClass } from "./Status";

interface Props {
  /** Names the element of the form-wide error. */
  id: string;
  fields: FormField[];
  initial: FormValues;
  /** Send only the changed fields (an edit). */
  changesOnly?: boolean;
  submitLabel: string;
  busyLabel: string;
  onSubmit: (body: Record<string, unknown>) => Promise<unknown>;
  onCancel?: () => void;
}

interface Errors {
  fields: Record<string, string>;
  form: string | null;
}

/** What the form shows for a failed submission: on its fields where the server named them. */
export function describeError(error: unknown, fields: FormField[]): Errors {
  if (error instanceof FormValueError) return { fields: { [error.field]: error.message }, form: null };
  if (!(error instanceof ApiError)) return { fields: {}, form: errorMessage(error) };
  const found: Record<string, string> = {};
  for (const field of fields) {
    const message = error.fieldError(field.name);
    if (message) found[field.name] = message;
  }
  if (Object.keys(found).length > 0) {
    const unplaced = error.errors.filter((e) => !fields.some((f) => e.field === f.name || e.field.endsWith(`.${f.name}`)));
    return { fields: found, form: unplaced.length > 0 ? unplaced.map((e) => e.message).join(" ") : null };
  }
  if (error.status === 409) return { fields: {}, form: t("{detail} Change it and try again.", { detail: error.detail }) };
  return { fields: {}, form: errorMessage(error) };
}

/** A form generated from a resource's JSON Schema (see schemaForm.ts). */
export function SchemaForm(props: Props) {
  const [values, setValues] = useState<FormValues>(props.initial);
  const [errors, setErrors] = useState<Errors>({ fields: {}, form: null });
  const [busy, setBusy] = useState(false);
  const [uploads, setUploads] = useState<Record<string, boolean>>({});
  const uploading = Object.values(uploads).some(Boolean);
  const errorId = `${props.id}-error`;

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (uploading) return; // the field would be saved without the file on its way
    setBusy(true);
    setErrors({ fields: {}, form: null });
    try {
      await props.onSubmit(toBody(props.fields, values, props.changesOnly ? props.initial : undefined));
    } catch (error) {
      setErrors(describeError(error, props.fields));
      setBusy(false);
    }
  }

  const set = (name: string, value: string | boolean) => setValues((current) => ({ ...current, [name]: value }));
  const setUploading = (name: string, busy: boolean) => setUploads((current) => ({ ...current, [name]: busy }));

  return (
    <form
      onSubmit={(e) => void submit(e)}
      noValidate
      className="mt-6 max-w-2xl space-y-5 rounded-lg bg-white p-6 shadow-sm ring-1 ring-slate-200"
      aria-describedby={errors.form ? errorId : undefined}
    >
      {errors.form && (
        <p id={errorId} role="alert" className="rounded-md bg-red-50 p-3 text-sm text-red-700">
          {errors.form}
        </p>
      )}
      {props.fields.map((field) => (
        <FieldFrame
          key={field.name}
          label={field.required || field.kind === "checkbox" ? field.label : t("{label} (optional)", { label: field.label })}
          error={errors.fields[field.name]}
          hint={hintFor(field)}
          inline={field.kind === "checkbox"}
        >
          {(control) => <Control field={field} value={values[field.name] ?? ""} onChange={set} onBusy={setUploading} control={control} />}
        </FieldFrame>
      ))}
      <div className="flex gap-3">
        <button type="submit" disabled={busy || uploading} className={buttonClass}>
          {busy ? props.busyLabel : uploading ? t("Uploading…") : props.submitLabel}
        </button>
        {props.onCancel && (
          <button type="button" onClick={props.onCancel} className="px-4 py-2 text-sm font-medium text-slate-700 hover:text-slate-900">
            {t("Cancel")}
          </button>
        )}
      </div>
    </form>
  );
}

/** The field's description, and for a date and time the time zone it is read in. */
function hintFor(field: FormField): string | undefined {
  if (field.kind !== "datetime") return field.description;
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  const note = t("In your time zone ({zone}); saved in UTC.", { zone });
  return field.description ? `${field.description} ${note}` : note;
}

interface ControlArgs {
  field: FormField;
  value: string | boolean;
  onChange: (name: string, value: string | boolean) => void;
  onBusy: (name: string, busy: boolean) => void;
  control: ControlProps;
}

function Control({ field, value, onChange, onBusy, control }: ControlArgs) {
  const common = { ...control, name: field.name, required: field.required };
  const text = typeof value === "string" ? value : "";
  const change = (event: { target: { value: string } }) => onChange(field.name, event.target.value);
  switch (field.kind) {
    case "reference":
    case "references":
      return field.relation ? (
        <ReferencePicker
          control={control}
          name={field.name}
          label={field.label}
          relation={field.relation}
          value={text}
          required={field.required}
          multiple={field.kind === "references"}
          onChange={(id) => onChange(field.name, id)}
        />
      ) : null;
    case "file":
      return field.upload ? (
        <FileUpload
          control={control}
          name={field.name}
          upload={field.upload}
          value={text}
          required={field.required}
          onChange={(id) => onChange(field.name, id)}
          onBusy={(busy) => onBusy(field.name, busy)}
        />
      ) : null;
    case "checkbox":
      // A switch: on or off, saved as true or false.
      return (
        <input
          {...common}
          type="checkbox"
          role="switch"
          checked={value === true}
          onChange={(e) => onChange(field.name, e.target.checked)}
          className="relative h-5 w-9 shrink-0 cursor-pointer appearance-none rounded-full bg-slate-300 transition-colors before:absolute before:left-0.5 before:top-0.5 before:size-4 before:rounded-full before:bg-white before:shadow before:transition-transform checked:bg-indigo-600 checked:before:translate-x-4 focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-500 focus-visible:ring-offset-2"
        />
      );
    case "select":
      return (
        <select {...common} value={text} onChange={change}>
          {(!field.required || text === "") && <option value="">{field.required ? t("Choose…") : "—"}</option>}
          {field.options.map((option) => (
            <option key={option} value={option}>
              {option}
            </option>
          ))}
        </select>
      );
    case "textarea":
    case "json":
      return (
        <textarea
          {...common}
          rows={field.kind === "json" ? 6 : 4}
          maxLength={field.maxLength}
          value={text}
          onChange={change}
          className={`${control.className}${field.kind === "json" ? " font-mono" : ""}`}
        />
      );
    default: {
      // A decimal is typed as text: a number input would round it to a float.
      const type = { integer: "number", number: "number", decimal: "text", date: "date", datetime: "datetime-local", text: "text" }[field.kind];
      return (
        <input
          {...common}
          type={type}
          inputMode={field.kind === "integer" ? "numeric" : field.kind === "number" || field.kind === "decimal" ? "decimal" : undefined}
          step={field.kind === "number" ? "any" : undefined}
          placeholder={field.kind === "decimal" && field.scale ? localDecimal(`0.${"0".repeat(field.scale)}`) : undefined}
          min={field.minimum}
          max={field.maximum}
          maxLength={field.maxLength}
          value={text}
          onChange={change}
        />
      );
    }
  }
}
