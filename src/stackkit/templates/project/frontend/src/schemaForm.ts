// Form fields from a resource's JSON Schema (as Pydantic writes it), and back: the
// values a form holds are strings and booleans; the body sent is typed JSON.

import { formatDateTime, localDecimal, plainDecimal, plural, t } from "./i18n";
import { relationOf, relationTitle, type JsonSchema, type RelationInfo, type Upload } from "./resources";

export type FieldKind = "text" | "textarea" | "integer" | "number" | "decimal" | "checkbox" | "select" | "date" | "datetime" | "json" | "reference" | "references" | "file";

export interface FormField {
  name: string;
  label: string;
  kind: FieldKind;
  required: boolean;
  /** `null` is a valid value: an empty input sends null. */
  nullable: boolean;
  options: string[];
  maxLength?: number | undefined;
  minimum?: number | undefined;
  maximum?: number | undefined;
  description?: string | undefined;
  default?: unknown;
  /** For a `decimal`: the most digits after the point (`x-decimal-places`). */
  scale?: number | undefined;
  /** For a `reference`: the rows it may name, picked from `<path>/choices`. */
  relation?: RelationInfo | undefined;
  /** For a `file`: where its uploads go and what it takes. */
  upload?: Upload | undefined;
}

export type FormValues = Record<string, string | boolean>;

const DECIMAL = /^[+-]?(\d+(\.\d*)?|\.\d+)$/;

/** A string longer than this (or unbounded) gets a textarea. */
const SHORT_TEXT = 255;

type Property = Record<string, unknown>;

function asNumber(value: unknown): number | undefined {
  return typeof value === "number" ? value : undefined;
}

/** The property itself, or its one non-null alternative (`anyOf: [X, {type: null}]`). */
function unwrap(property: Property): { inner: Property; nullable: boolean } {
  const options = property.anyOf;
  if (!Array.isArray(options)) return { inner: property, nullable: property.type === "null" };
  const alternatives = (options as Property[]).filter((option) => option.type !== "null");
  const nullable = alternatives.length < options.length;
  // The alternative's own `anyOf` stays: an optional Decimal is `anyOf: [{anyOf: [number, string]}, null]`.
  const inner = alternatives.length === 1 ? { ...property, anyOf: undefined, ...alternatives[0] } : property;
  return { inner, nullable };
}

/** Pydantic's `Decimal`: a number, or the same as text (`anyOf: [number, string]`). */
function isDecimal(property: Property): boolean {
  if (!Array.isArray(property.anyOf)) return false;
  const types = (property.anyOf as Property[]).map((option) => option.type).filter((type) => type !== "null");
  return types.length === 2 && types.includes("number") && types.includes("string");
}

function kindOf(property: Property): FieldKind {
  if (isDecimal(property)) return "decimal";
  if (Array.isArray(property.enum)) return "select";
  switch (property.type) {
    case "boolean":
      return "checkbox";
    case "integer":
      return "integer";
    case "number":
      return "number";
    case "string": {
      if (property.format === "date") return "date";
      if (property.format === "date-time") return "datetime";
      const maxLength = asNumber(property.maxLength);
      return maxLength !== undefined && maxLength <= SHORT_TEXT ? "text" : "textarea";
    }
    default:
      return "json";
  }
}

/** The fields of an object schema, in the order the schema lists them; a field that
 * holds the id of a relation's row (`relations`) is a `reference`. */
export function fieldsOf(
  schema: JsonSchema,
  relations: Record<string, RelationInfo> = {},
  uploads: Record<string, Upload> = {},
): FormField[] {
  const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
  return Object.entries(schema.properties ?? {}).map(([name, property]) => {
    const { inner, nullable } = unwrap(property);
    const [relationName, relation] = relationOf({ relations }, name) ?? [];
    return {
      name,
      label: relationName ? relationTitle(relationName) : typeof property.title === "string" ? property.title : name,
      kind: relation ? (relation.many ? "references" : "reference") : uploads[name] ? "file" : kindOf(inner),
      relation,
      upload: uploads[name],
      required: required.has(name),
      nullable,
      options: Array.isArray(inner.enum) ? inner.enum.map(String) : [],
      maxLength: asNumber(inner.maxLength),
      minimum: asNumber(inner.minimum),
      maximum: asNumber(inner.maximum),
      description: typeof property.description === "string" ? property.description : undefined,
      default: property.default,
      scale: asNumber(inner["x-decimal-places"]),
    };
  });
}

/** `2026-11-25T10:30:00Z` as a `datetime-local` input shows it (local time, to the minute). */
function toLocalInput(value: string): string {
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return value;
  const pad = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function toFormValue(field: FormField, value: unknown): string | boolean {
  if (field.kind === "checkbox") return value === true;
  if (value === null || value === undefined) return "";
  if (field.kind === "datetime" && typeof value === "string") return toLocalInput(value);
  if (field.kind === "references" && Array.isArray(value)) return value.join(",");
  if (field.kind === "json") return JSON.stringify(value, null, 2);
  // A decimal is typed as text, in the language's way; a number input takes "12.5".
  if (field.kind === "decimal") return localDecimal(String(value));
  return String(value);
}

/** What a form starts with: the row's values when editing, else the schema's defaults. */
export function initialValues(fields: FormField[], row?: Record<string, unknown>): FormValues {
  const values: FormValues = {};
  for (const field of fields) values[field.name] = toFormValue(field, row ? row[field.name] : field.default);
  return values;
}

/** Thrown for a value the browser cannot turn into JSON (a number or JSON field). */
export class FormValueError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

function fromFormValue(field: FormField, value: string | boolean): unknown {
  if (field.kind === "checkbox") return value === true;
  const text = String(value);
  if (field.kind === "references") return text.split(",").filter(Boolean).map(Number);
  if (text.trim() === "") {
    if (field.required && !field.nullable) throw new FormValueError(field.name, t("Fill this in."));
    return field.nullable ? null : undefined;
  }
  switch (field.kind) {
    case "integer":
    case "reference":
    case "number": {
      const number = Number(text); // a number input's value has a point in every language
      if (!Number.isFinite(number) || (field.kind !== "number" && !Number.isInteger(number))) {
        throw new FormValueError(field.name, field.kind === "integer" ? t("Enter a whole number.") : t("Enter a number."));
      }
      return number;
    }
    case "decimal": {
      // Sent as text, digit for digit: a float would round 0.10 + 0.20.
      const typed = plainDecimal(text.trim());
      if (typed === null || !DECIMAL.test(typed)) throw new FormValueError(field.name, t("Enter a number, like {example}.", { example: localDecimal("12.50") }));
      if (field.scale !== undefined && (typed.split(".")[1] ?? "").length > field.scale) {
        throw new FormValueError(
          field.name,
          field.scale === 0
            ? t("Enter a whole number.")
            : plural(field.scale, { one: "Use at most {count} decimal place.", other: "Use at most {count} decimal places." }),
        );
      }
      return typed;
    }
    case "datetime": {
      const date = new Date(text);
      if (Number.isNaN(date.getTime())) throw new FormValueError(field.name, t("Enter a date and time."));
      return date.toISOString();
    }
    case "json":
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new FormValueError(field.name, t("Enter valid JSON."));
      }
    default:
      return text;
  }
}

/**
 * The request body for `values`. With `original` (an edit), only the fields that
 * changed are sent, so that a PATCH touches nothing else.
 */
export function toBody(fields: FormField[], values: FormValues, original?: FormValues): Record<string, unknown> {
  const body: Record<string, unknown> = {};
  for (const field of fields) {
    const value = values[field.name] ?? "";
    if (original && original[field.name] === value) continue;
    const converted = fromFormValue(field, value);
    if (converted !== undefined) body[field.name] = converted;
  }
  return body;
}

/** A field's value for reading (detail pages and table cells); numbers with the
 *  language's decimal separator. */
export function displayValue(value: unknown, kind?: FieldKind): string {
  if (value === null || value === undefined || value === "") return "—";
  if (typeof value === "boolean") return value ? t("Yes") : t("No");
  if (typeof value === "object") return JSON.stringify(value);
  if (typeof value === "string" && ISO_DATE_TIME.test(value)) {
    if (!Number.isNaN(new Date(value).getTime())) return formatDateTime(value);
  }
  if (typeof value === "number" || (kind === "decimal" && typeof value === "string")) return localDecimal(String(value));
  return String(value);
}

const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;
