/**
 * How a link to `url` opens: in a new tab when `url` is on another origin (a storage's
 * signed link). The browser ignores `download` there, and would show an image in place
 * of the app.
 */
export function linkTarget(url: string): { target?: "_blank"; rel?: string } {
  const elsewhere = new URL(url, window.location.href).origin !== window.location.origin;
  return elsewhere ? { target: "_blank", rel: "noopener noreferrer" } : {};
}

/** Save `url` as `name`, as a click on a link with `download` would. */
export function download(url: string, name: string) {
  const anchor = document.createElement("a");
  anchor.href = url;
  anchor.download = name;
  Object.assign(anchor, linkTarget(url));
  anchor.click();
}

/** How long a saved blob's address lives: some browsers read it after the click. */
const BLOB_LIFETIME_MS = 60_000;

/** Save what the app sent as a file called `name`. */
export function downloadBlob(blob: Blob, name: string) {
  const url = URL.createObjectURL(blob);
  download(url, name);
  setTimeout(() => URL.revokeObjectURL(url), BLOB_LIFETIME_MS);
}
