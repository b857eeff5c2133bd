import { useId, type InputHTMLAttributes, type ReactNode } from "react";

/** What a form control needs to be tied to its label, hint and error. */
export interface ControlProps {
  id: string;
  "aria-invalid": true | undefined;
  "aria-describedby": string | undefined;
  className: string;
}

interface FrameProps {
  label: string;
  error?: string | undefined;
  hint?: string | undefined;
  id?: string | undefined;
  className?: string | undefined;
  /** A checkbox sits before its label; other controls below it. */
  inline?: boolean;
  children: (control: ControlProps) => ReactNode;
}

export const controlClass = (error: string | undefined) =>
  `mt-1 block w-full rounded-md border bg-white px-3 py-2 text-base shadow-sm focus:outline-none focus:ring-2 sm:text-sm ${
    error
      ? "border-red-500 focus:border-red-500 focus:ring-red-200"
      : "border-slate-300 focus:border-indigo-500 focus:ring-indigo-200"
  }`;

/** A label, a control, a hint and an error, tied together (aria-invalid, aria-describedby). */
export function FieldFrame({ label, error, hint, id, className, inline = false, children }: FrameProps) {
  const generated = useId();
  const controlId = id ?? generated;
  const hintId = hint ? `${controlId}-hint` : undefined;
  const errorId = error ? `${controlId}-error` : undefined;
  const control: ControlProps = {
    id: controlId,
    "aria-invalid": error ? true : undefined,
    "aria-describedby": [errorId, hintId].filter(Boolean).join(" ") || undefined,
    className: inline ? "size-4 rounded border-slate-300 text-indigo-600 focus:ring-indigo-500" : controlClass(error),
  };
  const labelElement = (
    <label htmlFor={controlId} className="block text-sm font-medium text-slate-700">
      {label}
    </label>
  );
  return (
    <div className={className}>
      {inline ? (
        <div className="flex items-center gap-2">
          {children(control)}
          {labelElement}
        </div>
      ) : (
        <>
          {labelElement}
          {children(control)}
        </>
      )}
      {hint && !error && (
        <p id={hintId} className="mt-1 text-xs text-slate-500">
          {hint}
        </p>
      )}
      {error && (
        <p id={errorId} className="mt-1 text-sm text-red-600">
          {error}
        </p>
      )}
    </div>
  );
}

interface FieldProps extends InputHTMLAttributes<HTMLInputElement> {
  label: string;
  error?: string | undefined;
  hint?: string | undefined;
}

/** A labelled text input (see FieldFrame). */
export function Field({ label, error, hint, id, className, ...input }: FieldProps) {
  return (
    <FieldFrame label={label} error={error} hint={hint} id={id} className={className}>
      {(control) => <input {...control} {...input} />}
    </FieldFrame>
  );
}
