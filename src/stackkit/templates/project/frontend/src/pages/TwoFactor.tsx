import { generate } from "lean-qr/nano";
import { useEffect, useRef, useState } from "react";
import { ApiError, errorMessage } from "../api";
import { useAuth } from "../auth/AuthContext";
import { describeAgent } from "../components/devices";
import { Field } from "../components/Field";
import { Alert, Notice, Pending, buttonClass, secondaryButtonClass } from "../components/Status";
import { formatDate, plural, t } from "../i18n";
import { useApi, useSubmit } from "../useApi";

/** GET /api/auth/two-factor. */
export interface TwoFactorStatus {
  enabled: boolean;
  enabled_at: string | null;
  recovery_codes_left: number;
  /** Roles of the user's that count only with it on (STACKKIT_REQUIRE_2FA_FOR). */
  required_for?: string[];
}

/** One entry of GET /api/auth/two-factor/devices. */
export interface TrustedDevice {
  id: string;
  created_at: string;
  expires_at: string;
  user_agent: string | null;
  address: string | null;
}

interface Enrolment {
  secret: string;
  uri: string;
}

export default function TwoFactor() {
  const { reload } = useAuth();
  const status = useApi<TwoFactorStatus>("/api/auth/two-factor");
  const [codes, setCodes] = useState<string[] | null>(null);
  const shown = (made: string[]) => {
    setCodes(made);
    status.reload();
    void reload(); // new tokens: a role that needs two-factor sign-in counts now
  };
  const required = status.state === "done" ? (status.data.required_for ?? []) : [];
  return (
    <div className="space-y-10">
      <div>
        <h1 className="text-2xl font-semibold tracking-tight">{t("Two-factor sign-in")}</h1>
        <p className="mt-1 max-w-2xl text-sm text-slate-600">
          {t("With it on, signing in asks for your password and then a code from an authenticator app on your phone: a stolen password is not enough.")}
        </p>
      </div>
      {codes && <RecoveryCodes codes={codes} onDone={() => setCodes(null)} />}
      {status.state === "done" && !status.data.enabled && required.length > 0 && (
        <Alert>
          {plural(
            required.length,
            {
              other: "Your roles {roles} need two-factor sign-in: until it is on, you act without it.",
              one: "Your role {roles} needs two-factor sign-in: until it is on, you act without it.",
            },
            { roles: required.join(", ") },
          )}
        </Alert>
      )}
      <Pending value={status} what={t("your two-factor sign-in")} />
      {status.state === "done" && !status.data.enabled && <Enrol onEnabled={shown} />}
      {status.state === "done" && status.data.enabled && (
        <>
          <Notice>
            {t("On since {date}.", { date: status.data.enabled_at ? formatDate(status.data.enabled_at) : "—" })}{" "}
            {plural(status.data.recovery_codes_left, { other: "{count} recovery codes left.", one: "{count} recovery code left." })}
          </Notice>
          <PasswordAndCode
            id="new-codes"
            title={t("New recovery codes")}
            hint={t("The old ones stop working.")}
            action="/api/auth/two-factor/recovery-codes"
            label={t("Make new codes")}
            onDone={(answer) => shown((answer as { recovery_codes: string[] }).recovery_codes)}
          />
          <TrustedDevices />
          <PasswordAndCode
            id="turn-off"
            title={t("Turn two-factor sign-in off")}
            hint={t("Your trusted browsers are forgotten too.")}
            action="/api/auth/two-factor/disable"
            label={t("Turn off")}
            onDone={() => status.reload()}
          />
        </>
      )}
    </div>
  );
}

function QrCode({ value }: { value: string }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    if (!canvas.current) return;
    try {
      generate(value).toCanvas(canvas.current);
    } catch {
      // No canvas to draw on (a test's document): the secret is shown as text too.
    }
  }, [value]);
  return (
    <canvas
      ref={canvas}
      role="img"
      aria-label={t("QR code of the secret, for your authenticator app")}
      className="h-48 w-48 rounded bg-[#fff] p-2 ring-1 ring-slate-200"
      style={{ imageRendering: "pixelated" }}
    />
  );
}

function Enrol({ onEnabled }: { onEnabled: (codes: string[]) => void }) {
  const { request } = useAuth();
  const [password, setPassword] = useState("");
  const [enrolment, setEnrolment] = useState<Enrolment | null>(null);
  const [code, setCode] = useState("");
  const start = useSubmit(async () => {
    setEnrolment(await request<Enrolment>("/api/auth/two-factor/setup", { method: "POST", body: { password } }));
    setPassword("");
  });
  const confirm = useSubmit(async () => {
    const answer = await request<{ recovery_codes: string[] }>("/api/auth/two-factor/enable", { method: "POST", body: { code } });
    onEnabled(answer.recovery_codes);
  });
  const startError = start.error instanceof ApiError ? start.error.fieldError("password") : undefined;
  const codeError = confirm.error instanceof ApiError ? confirm.error.fieldError("code") : undefined;

  if (!enrolment) {
    return (
      <section aria-labelledby="enrol-heading">
        <h2 id="enrol-heading" className="text-lg font-medium">
          {t("Turn it on")}
        </h2>
        <form onSubmit={start.onSubmit} className="mt-4 max-w-sm space-y-4 rounded-lg bg-white p-6 shadow-sm ring-1 ring-slate-200">
          {start.error !== null && !startError && <Alert>{errorMessage(start.error)}</Alert>}
          <Field
            label={t("Password")}
            name="enrol_password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            error={startError}
          />
          <button type="submit" disabled={start.busy} className={buttonClass}>
            {start.busy ? t("Checking…") : t("Set up")}
          </button>
        </form>
      </section>
    );
  }
  return (
    <section aria-labelledby="scan-heading">
      <h2 id="scan-heading" className="text-lg font-medium">
        {t("Scan the code")}
      </h2>
      <p className="mt-1 text-sm text-slate-600">
        {t("Scan it with your authenticator app, or type the secret in. Then enter the code the app shows.")}
      </p>
      <div className="mt-4 flex flex-wrap items-start gap-6">
        <QrCode value={enrolment.uri} />
        <form onSubmit={confirm.onSubmit} className="max-w-sm flex-1 space-y-4 rounded-lg bg-white p-6 shadow-sm ring-1 ring-slate-200">
          <p className="text-sm text-slate-700">
            {t("Secret:")} <code aria-label={t("Secret")} className="break-all font-mono">{enrolment.secret}</code>
          </p>
          {confirm.error !== null && !codeError && <Alert>{errorMessage(confirm.error)}</Alert>}
          <Field
            label={t("Code from the app")}
            name="first_code"
            autoComplete="one-time-code"
            inputMode="numeric"
            required
            maxLength={8}
            value={code}
            onChange={(e) => setCode(e.target.value)}
            error={codeError}
          />
          <button type="submit" disabled={confirm.busy} className={buttonClass}>
            {confirm.busy ? t("Checking…") : t("Turn on")}
          </button>
        </form>
      </div>
    </section>
  );
}

function RecoveryCodes({ codes, onDone }: { codes: string[]; onDone: () => void }) {
  return (
    <section aria-labelledby="codes-heading" className="rounded-lg bg-emerald-50 p-4 ring-1 ring-emerald-200">
      <h2 id="codes-heading" className="font-medium text-emerald-900">
        {t("Your recovery codes: keep them now")}
      </h2>
      <p className="mt-1 text-sm text-emerald-900">
        {t("Each signs you in once without the app. This is the only time they are shown.")}
      </p>
      <ul aria-label={t("Recovery codes")} className="mt-3 grid max-w-sm grid-cols-2 gap-2 font-mono text-sm">
        {codes.map((code) => (
          <li key={code} className="rounded bg-white px-2 py-1 ring-1 ring-emerald-200">
            {code}
          </li>
        ))}
      </ul>
      <button type="button" onClick={onDone} className={`${secondaryButtonClass} mt-3`}>
        {t("I have kept them")}
      </button>
    </section>
  );
}

interface PasswordAndCodeProps {
  id: string;
  title: string;
  hint: string;
  action: string;
  label: string;
  onDone: (answer: unknown) => void;
}

function PasswordAndCode({ id, title, hint, action, label, onDone }: PasswordAndCodeProps) {
  const { request } = useAuth();
  const [password, setPassword] = useState("");
  const [code, setCode] = useState("");
  const { busy, error, onSubmit } = useSubmit(async () => {
    const answer = await request<unknown>(action, { method: "POST", body: { password, code } });
    setPassword("");
    setCode("");
    onDone(answer);
  });
  const apiError = error instanceof ApiError ? error : null;
  const passwordError = apiError?.fieldError("password");
  const codeError = apiError?.fieldError("code");
  return (
    <section aria-labelledby={`${id}-heading`}>
      <h2 id={`${id}-heading`} className="text-lg font-medium">
        {title}
      </h2>
      <p className="mt-1 text-sm text-slate-600">{hint}</p>
      <form onSubmit={onSubmit} className="mt-4 max-w-sm space-y-4 rounded-lg bg-white p-6 shadow-sm ring-1 ring-slate-200">
        {error !== null && !passwordError && !codeError && <Alert>{errorMessage(error)}</Alert>}
        <Field
          label={t("Password")}
          name={`${id}_password`}
          type="password"
          autoComplete="current-password"
          required
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          error={passwordError}
        />
        <Field
          label={t("Code, or a recovery code")}
          name={`${id}_code`}
          autoComplete="one-time-code"
          required
          maxLength={32}
          value={code}
          onChange={(e) => setCode(e.target.value)}
          error={codeError}
        />
        <button type="submit" disabled={busy} className={secondaryButtonClass}>
          {busy ? t("Checking…") : label}
        </button>
      </form>
    </section>
  );
}

function TrustedDevices() {
  const { request } = useAuth();
  const devices = useApi<TrustedDevice[]>("/api/auth/two-factor/devices");
  const [error, setError] = useState<string | null>(null);

  async function forget(path: string) {
    setError(null);
    try {
      await request<void>(path, { method: "DELETE" });
      devices.reload();
    } catch (caught) {
      setError(errorMessage(caught));
    }
  }

  return (
    <section aria-labelledby="devices-heading">
      <h2 id="devices-heading" className="text-lg font-medium">
        {t("Trusted browsers")}
      </h2>
      <p className="mt-1 text-sm text-slate-600">{t("Browsers where you chose to skip the code for 30 days.")}</p>
      {error && <Alert className="mt-3">{error}</Alert>}
      <Pending value={devices} what={t("your trusted browsers")} />
      {devices.state === "done" && devices.data.length === 0 && <p className="mt-4 text-sm text-slate-600">{t("None.")}</p>}
      {devices.state === "done" && devices.data.length > 0 && (
        <>
          <ul aria-label={t("Trusted browsers")} className="mt-4 divide-y divide-slate-100 rounded-lg bg-white shadow-sm ring-1 ring-slate-200">
            {devices.data.map((device) => (
              <li key={device.id} className="flex flex-wrap items-center justify-between gap-3 px-4 py-3 text-sm">
                <div>
                  <p className="font-medium text-slate-900">{describeAgent(device.user_agent)}</p>
                  <p className="text-slate-500">
                    {device.address ? `${device.address} · ` : ""}
                    {t("trusted {created} · until {expires}", {
                      created: formatDate(device.created_at),
                      expires: formatDate(device.expires_at),
                    })}
                  </p>
                </div>
                <button
                  type="button"
                  onClick={() => void forget(`/api/auth/two-factor/devices/${encodeURIComponent(device.id)}`)}
                  aria-label={t("Forget {device}, trusted {date}", {
                    device: describeAgent(device.user_agent),
                    date: formatDate(device.created_at),
                  })}
                  className={secondaryButtonClass}
                >
                  {t("Forget")}
                </button>
              </li>
            ))}
          </ul>
          <button type="button" onClick={() => void forget("/api/auth/two-factor/devices")} className={`${secondaryButtonClass} mt-4`}>
            {t("Forget them all")}
          </button>
        </>
      )}
    </section>
  );
}
