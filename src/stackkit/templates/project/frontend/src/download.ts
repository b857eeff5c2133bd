/** Save `url` as `name`, as a click on a link with `download` would. */
export function download(url: string, name: string) {
  const anchor = document.createElement("a");
  anchor.href = url;
  anchor.download = name;
  anchor.click();
}

/** Save what the app sent as a file called `name`. */
export function downloadBlob(blob: Blob, name: string) {
  const url = URL.createObjectURL(blob);
  download(url, name);
  URL.revokeObjectURL(url);
}
