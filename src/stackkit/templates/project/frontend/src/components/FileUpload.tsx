import { useEffect, useState } from "react";
import { errorMessage } from "../api";
import { useAuth } from "../auth/AuthContext";
import { download, linkTarget } from "../download";
import { formatNumber, plural, t } from "../i18n";
import type { Upload } from "../resources";
import { useApi } from "../useApi";
import type { ControlProps } from "./Field";

interface Where {
  id: string;
  method: "PUT" | "POST";
  url: string;
  fields: Record<string, string>;
}

interface StoredFile {
  id: string;
  name: string;
  size: number;
}

interface FileLink extends StoredFile {
  url: string;
  thumbnail_url: string | null;
  /** Seconds the links work for. */
  expires_in: number;
}

/** `2.5 MB`: sizes as the API's limits count them (powers of 1000), the number
 * written as the language writes it (`2,5 MB`). */
export function formatSize(bytes: number): string {
  const units = ["KB", "MB", "GB"];
  let size = bytes;
  let unit = -1;
  while (size >= 1000 && unit < units.length - 1) {
    size /= 1000;
    unit += 1;
  }
  if (unit < 0) return plural(size, { one: "{count} byte", other: "{count} bytes" });
  const digits = size < 10 ? 1 : 0;
  return `${formatNumber(size, { minimumFractionDigits: digits, maximumFractionDigits: digits })} ${units[unit]}`;
}

interface UploadProps {
  control: ControlProps;
  name: string;
  upload: Upload;
  /** The file's id, or "" for none. */
  value: string;
  required: boolean;
  onChange: (id: string) => void;
  /** Told when an upload starts and ends: the form waits for it. */
  onBusy?: (busy: boolean) => void;
}

/** A file input that uploads the file as soon as it is picked: to the app, or straight
 * to the object store with the form the app presigns; the field then holds its id. */
export function FileUpload({ control, name, upload, value, required, onChange, onBusy }: UploadProps) {
  const { request } = useAuth();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [picked, setPicked] = useState<string | null>(null);
  const statusId = `${control.id}-status`;

  async function send(file: File) {
    setError(null);
    if (file.size > upload.max_size) {
      setError(t("This file is {size}; at most {limit} is taken.", { size: formatSize(file.size), limit: formatSize(upload.max_size) }));
      return;
    }
    setBusy(true);
    onBusy?.(true);
    try {
      const where = await request<Where>(upload.url, { body: { name: file.name, size: file.size } });
      if (where.method === "PUT") {
        await request<StoredFile>(where.url, { method: "PUT", body: file });
      } else {
        const form = new FormData();
        for (const [key, field] of Object.entries(where.fields)) form.append(key, field);
        form.append("file", file);
        const sent = await fetch(where.url, { method: "POST", body: form });
        if (!sent.ok) throw new Error(t("The file store refused the file."));
        await request<StoredFile>(`${upload.url}/${where.id}/complete`, { method: "POST" });
      }
      setPicked(file.name);
      onChange(where.id);
    } catch (caught) {
      setError(errorMessage(caught));
    } finally {
      setBusy(false);
      onBusy?.(false);
    }
  }

  const describedBy = [control["aria-describedby"], statusId].filter(Boolean).join(" ");
  return (
    <div>
      <input
        {...control}
        aria-describedby={describedBy}
        aria-invalid={error ? true : control["aria-invalid"]}
        name={name}
        type="file"
        accept={upload.types.join(",") || undefined}
        disabled={busy}
        onChange={(event) => {
          const file = event.target.files?.[0];
          event.target.value = ""; // so that picking the same file again (a retry) is a change
          if (file) void send(file);
        }}
        className="mt-1 block w-full text-sm text-slate-700 file:mr-3 file:rounded-md file:border-0 file:bg-slate-100 file:px-3 file:py-2 file:text-sm file:font-medium file:text-slate-800 hover:file:bg-slate-200"
      />
      <p id={statusId} role="status" className="mt-1 text-xs text-slate-600">
        {busy
          ? t("Uploading…")
          : value
            ? t("Attached: {name}.", { name: picked ?? t("the current file") })
            : t("Up to {size}.", { size: formatSize(upload.max_size) })}
      </p>
      {value && !required && !busy && (
        <button type="button" onClick={() => onChange("")} className="mt-1 text-sm font-medium text-indigo-600 hover:text-indigo-500">
          {t("Remove the file")}
        </button>
      )}
      {error && (
        <p role="alert" className="mt-1 text-sm text-red-600">
          {error}
        </p>
      )}
    </div>
  );
}

/** A row's file on its page: a link to it, and an image's thumbnail. */
export function FileValue({ path, field, image }: { path: string; field: string; image: boolean }) {
  const { request } = useAuth();
  const link = useApi<FileLink>(`${path}/files/${field}`);
  // The links stop working after a few minutes: a page left open asks for new ones,
  // and shows them from then on.
  const [current, setCurrent] = useState<{ file: FileLink; fetchedAt: number } | null>(null);
  const fetched = link.state === "done" ? link.data : null;
  useEffect(() => {
    if (fetched) setCurrent({ file: fetched, fetchedAt: Date.now() });
  }, [fetched]);
  if (link.state === "loading") return <span className="text-slate-500">{t("Loading…")}</span>;
  if (link.state === "error") return <span className="text-red-600">{errorMessage(link.error)}</span>;
  const file = current?.file ?? link.data;
  const fetchedAt = current?.fetchedAt ?? Date.now();
  return (
    <span className="flex flex-col items-start gap-2">
      {image && file.thumbnail_url && <img src={file.thumbnail_url} alt={file.name} className="max-h-40 rounded ring-1 ring-slate-200" />}
      <a
        href={file.url}
        className="font-medium text-indigo-600 hover:text-indigo-500"
        download={file.name}
        {...linkTarget(file.url)}
        onClick={(event) => {
          if (Date.now() < fetchedAt + (file.expires_in - 10) * 1000) return;
          event.preventDefault();
          request<FileLink>(`${path}/files/${field}`).then(
            (renewed) => {
              setCurrent({ file: renewed, fetchedAt: Date.now() });
              download(renewed.url, renewed.name);
            },
            () => link.reload(),
          );
        }}
      >
        {file.name}
      </a>
      <span className="text-xs text-slate-500">{formatSize(file.size)}</span>
    </span>
  );
}
