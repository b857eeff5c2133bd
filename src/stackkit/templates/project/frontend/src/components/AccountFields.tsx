import type { InputHTMLAttributes } from "react";
import { Field } from "./Field";
import { t } from "../i18n";

type Props = Omit<InputHTMLAttributes<HTMLInputElement>, "value" | "onChange"> & {
  value: string;
  onChange: (value: string) => void;
  error?: string | undefined;
};

/** The API's password policy, as the forms that set a password show it. */
export const newPasswordHint = () => t("8 to 128 characters; not a common password, nor your email.");

export function EmailField({ value, onChange, error, ...rest }: Props) {
  return (
    <Field
      label={t("Email")}
      name="email"
      type="email"
      autoComplete="username"
      required
      {...rest}
      value={value}
      onChange={(e) => onChange(e.target.value)}
      error={error}
    />
  );
}

/** A field for a password being chosen: the policy's limits, its hint, `new-password`. */
export function NewPasswordField({ value, onChange, error, label, name = "new_password" }: Props & { label?: string }) {
  return (
    <Field
      label={label ?? t("New password")}
      name={name}
      type="password"
      autoComplete="new-password"
      required
      minLength={8}
      maxLength={128}
      value={value}
      onChange={(e) => onChange(e.target.value)}
      error={error}
      hint={newPasswordHint()}
    />
  );
}
