import { useState } from "react";
import { ApiError, errorMessage } from "../api";
import { useAuth } from "../auth/AuthContext";
import { ConfirmDialog } from "../components/ConfirmDialog";
import { Field, FieldFrame, controlClass } from "../components/Field";
import { Alert, Notice, Pending, buttonClass, secondaryButtonClass } from "../components/Status";
import { formatDate, formatDateTime, t } from "../i18n";
import { useApi, useSubmit } from "../useApi";

/** One entry of GET /api/auth/api-keys. */
export interface ApiKeyInfo {
  id: string;
  name: string;
  prefix: string;
  roles: string[];
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
}

/** The answer of POST /api/auth/api-keys: the key, with its text this once. */
export interface CreatedApiKey extends ApiKeyInfo {
  key: string;
}

const EXPIRIES = [
  { label: () => t("30 days"), days: 30 },
  { label: () => t("90 days"), days: 90 },
  { label: () => t("1 year"), days: 365 },
  { label: () => t("Never"), days: null },
];

export default function ApiKeys() {
  const keys = useApi<ApiKeyInfo[]>("/api/auth/api-keys");
  const [created, setCreated] = useState<CreatedApiKey | null>(null);
  // Here, not in the list: the list is rebuilt when it loads again after a revocation.
  const [notice, setNotice] = useState<string | null>(null);
  return (
    <div className="space-y-10">
      <div>
        <h1 className="text-2xl font-semibold tracking-tight">{t("API keys")}</h1>
        <p className="mt-1 max-w-2xl text-sm text-slate-600">
          {t("Scripts and other services call the API with a key, sent as")} <code>{"Authorization: Bearer sk_…"}</code>.{" "}
          {t("A key acts as you, with the roles you give it; it cannot change your account or make other keys.")}
        </p>
      </div>
      {created && <NewKey created={created} onDone={() => setCreated(null)} />}
      <CreateKey
        onCreated={(key) => {
          setCreated(key);
          keys.reload();
        }}
      />
      <section aria-labelledby="keys-heading">
        <h2 id="keys-heading" className="text-lg font-medium">
          {t("Your keys")}
        </h2>
        {notice && <Notice className="mt-3">{notice}</Notice>}
        <Pending value={keys} what={t("your API keys")} />
        {keys.state === "done" && (
          <KeyList
            keys={keys.data}
            onRevoked={(key) => {
              setNotice(t("Key “{name}” revoked: it no longer works.", { name: key.name }));
              keys.reload();
            }}
          />
        )}
      </section>
    </div>
  );
}

function NewKey({ created, onDone }: { created: CreatedApiKey; onDone: () => void }) {
  const [copied, setCopied] = useState(false);
  async function copy() {
    try {
      await navigator.clipboard.writeText(created.key);
      setCopied(true);
    } catch {
      setCopied(false);
    }
  }
  return (
    <section aria-labelledby="new-key-heading" className="rounded-lg bg-emerald-50 p-4 ring-1 ring-emerald-200">
      <h2 id="new-key-heading" className="font-medium text-emerald-900">
        {t("Key “{name}” made: copy it now", { name: created.name })}
      </h2>
      <p className="mt-1 text-sm text-emerald-900">{t("This is the only time it is shown. Keep it where you keep passwords.")}</p>
      <div className="mt-3 flex flex-wrap gap-2">
        <input
          aria-label={t("The new key")}
          readOnly
          value={created.key}
          onFocus={(event) => event.target.select()}
          className="min-w-0 flex-1 rounded-md border border-emerald-300 bg-white px-3 py-2 font-mono text-sm"
        />
        <button type="button" onClick={() => void copy()} className={secondaryButtonClass}>
          {copied ? t("Copied") : t("Copy")}
        </button>
        <button type="button" onClick={onDone} className={secondaryButtonClass}>
          {t("Done")}
        </button>
      </div>
    </section>
  );
}

function CreateKey({ onCreated }: { onCreated: (key: CreatedApiKey) => void }) {
  const { user, request } = useAuth();
  const [name, setName] = useState("");
  const [expiry, setExpiry] = useState("30");
  const [roles, setRoles] = useState<string[]>([]);
  const { busy, error, onSubmit } = useSubmit(async () => {
    const days = expiry === "never" ? null : Number(expiry);
    const key = await request<CreatedApiKey>("/api/auth/api-keys", {
      method: "POST",
      body: { name, roles, expires_in_days: days },
    });
    setName("");
    setRoles([]);
    onCreated(key);
  });
  const apiError = error instanceof ApiError ? error : null;
  const nameError = apiError?.fieldError("name");
  const formError = error && !nameError ? errorMessage(error) : null;
  const held = user?.roles ?? [];

  return (
    <section aria-labelledby="create-key-heading">
      <h2 id="create-key-heading" className="text-lg font-medium">
        {t("New key")}
      </h2>
      <form onSubmit={onSubmit} className="mt-4 max-w-sm space-y-4 rounded-lg bg-white p-6 shadow-sm ring-1 ring-slate-200">
        {formError && <Alert>{formError}</Alert>}
        <Field
          label={t("Name")}
          name="key_name"
          hint={t("What it is for: the deploy script, the reporting service…")}
          required
          maxLength={100}
          value={name}
          onChange={(e) => setName(e.target.value)}
          error={nameError}
        />
        <FieldFrame label={t("Expires")}>
          {(control) => (
            <select {...control} value={expiry} onChange={(e) => setExpiry(e.target.value)} className={controlClass(undefined)}>
              {EXPIRIES.map((option) => (
                <option key={option.days ?? "never"} value={option.days === null ? "never" : String(option.days)}>
                  {option.label()}
                </option>
              ))}
            </select>
          )}
        </FieldFrame>
        {held.length > 0 && (
          <fieldset>
            <legend className="text-sm font-medium text-slate-700">{t("Roles it carries")}</legend>
            {held.map((role) => (
              <label key={role} className="mt-2 flex items-center gap-2 text-sm text-slate-700">
                <input
                  type="checkbox"
                  checked={roles.includes(role)}
                  onChange={(e) => setRoles(e.target.checked ? [...roles, role] : roles.filter((r) => r !== role))}
                />
                {role}
              </label>
            ))}
          </fieldset>
        )}
        <button type="submit" disabled={busy} className={buttonClass}>
          {busy ? t("Making…") : t("Make key")}
        </button>
      </form>
    </section>
  );
}

function KeyList({ keys, onRevoked }: { keys: ApiKeyInfo[]; onRevoked: (key: ApiKeyInfo) => void }) {
  const { request } = useAuth();
  const [revoking, setRevoking] = useState<ApiKeyInfo | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);

  async function revoke(key: ApiKeyInfo) {
    setBusy(true);
    setError(null);
    try {
      await request<void>(`/api/auth/api-keys/${encodeURIComponent(key.id)}`, { method: "DELETE" });
      setBusy(false);
      setRevoking(null);
      onRevoked(key);
    } catch (caught) {
      setError(errorMessage(caught));
      setBusy(false);
    }
  }

  if (keys.length === 0) {
    return <p className="mt-4 text-sm text-slate-600">{t("No keys yet.")}</p>;
  }
  return (
    <>
      <ul aria-label={t("API keys")} className="mt-4 divide-y divide-slate-100 rounded-lg bg-white shadow-sm ring-1 ring-slate-200">
        {keys.map((key) => {
          const expired = key.expires_at !== null && new Date(key.expires_at) <= new Date();
          return (
            <li key={key.id} className="flex flex-wrap items-center justify-between gap-3 px-4 py-3">
              <div className="text-sm">
                <p className="font-medium text-slate-900">
                  {key.name}
                  {key.roles.map((role) => (
                    <span key={role} className="ml-2 rounded-full bg-slate-100 px-2 py-0.5 text-xs font-normal text-slate-700">
                      {role}
                    </span>
                  ))}
                  {expired && <span className="ml-2 rounded-full bg-red-50 px-2 py-0.5 text-xs font-normal text-red-700">{t("Expired")}</span>}
                </p>
                <p className="text-slate-500">
                  <code>{key.prefix}…</code> · {t("made {date}", { date: formatDate(key.created_at) })} ·{" "}
                  {key.expires_at ? t("expires {date}", { date: formatDate(key.expires_at) }) : t("never expires")} ·{" "}
                  {key.last_used_at ? t("last used {date}", { date: formatDateTime(key.last_used_at) }) : t("never used")}
                </p>
              </div>
              <button
                type="button"
                onClick={() => setRevoking(key)}
                aria-label={t("Revoke {name}", { name: key.name })}
                className={secondaryButtonClass}
              >
                {t("Revoke")}
              </button>
            </li>
          );
        })}
      </ul>
      {revoking && (
        <ConfirmDialog
          title={t("Revoke “{name}”?", { name: revoking.name })}
          message={t("It stops working at once: whatever uses it will be refused.")}
          confirmLabel={t("Revoke key")}
          busy={busy}
          error={error}
          onConfirm={() => void revoke(revoking)}
          onCancel={() => setRevoking(null)}
        />
      )}
    </>
  );
}
