import { cleanup, fireEvent, screen, waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { me, note, notesInfo, tokens } from "../test/fakeFetch";
import { disposeApp, renderApp } from "../test/renderApp";

afterEach(() => {
  cleanup();
  disposeApp();
});

const signedIn = () => ({ "POST /api/auth/refresh": [tokens(1)], "GET /api/auth/me": [me] });

const photo = { title: "Photo", anyOf: [{ type: "string", maxLength: 32 }, { type: "null" }], default: null };

/** Notes with an image field (`photo:image=2MB:optional`). */
const notesWithPhoto = {
  ...notesInfo,
  files: { photo: { image: true, max_size: 2_000_000, types: ["image/png", "image/jpeg"] } },
  schemas: {
    create: { ...notesInfo.schemas.create, properties: { ...notesInfo.schemas.create.properties, photo } },
    update: { ...notesInfo.schemas.update, properties: { ...notesInfo.schemas.update.properties, photo } },
    read: { ...notesInfo.schemas.read, properties: { ...notesInfo.schemas.read.properties, photo } },
  },
};

const meta = () => ({ body: [notesWithPhoto] });
const picture = () => new File([new Uint8Array([137, 80, 78, 71])], "cat.png", { type: "image/png" });

describe("file fields", () => {
  it("uploads a picked file to the app and sends its id with the row", async () => {
    const api = renderApp("/r/notes/new", {
      ...signedIn(),
      "GET /api/meta/resources": [meta(), meta()],
      "POST /api/notes/files/photo": [{ status: 201, body: { id: "f1", method: "PUT", url: "/api/notes/files/photo/f1", fields: {}, expires_in: 900 } }],
      "PUT /api/notes/files/photo/f1": [{ body: { id: "f1", name: "cat.png", size: 4, content_type: "image/png", thumbnail: true } }],
      "POST /api/notes": [{ status: 201, body: note({ photo: "f1" }) }],
      "GET /api/notes/7": [{ body: note({ photo: "f1" }) }],
      "GET /api/notes/7/files/photo": [{ body: { id: "f1", name: "cat.png", size: 4, url: "/api/files/f1/file?x", thumbnail_url: "/api/files/f1/thumbnail?x", expires_in: 300 } }],
    });
    fireEvent.change(await screen.findByLabelText("Title"), { target: { value: "A cat" } });
    const input = screen.getByLabelText("Photo (optional)");
    expect(input.getAttribute("accept")).toBe("image/png,image/jpeg");
    fireEvent.change(input, { target: { files: [picture()] } });
    expect(await screen.findByText("Attached: cat.png.")).toBeTruthy();
    const started = api.calls.find((c) => c.url === "/api/notes/files/photo");
    expect(started?.body).toEqual({ name: "cat.png", size: 4 });
    const sent = api.calls.find((c) => c.method === "PUT");
    expect(sent?.body).toBeInstanceOf(File);

    fireEvent.click(screen.getByRole("button", { name: "Create" }));
    const image = await screen.findByRole("img", { name: "cat.png" });
    expect(image.getAttribute("src")).toBe("/api/files/f1/thumbnail?x");
    expect(screen.getByRole("link", { name: "cat.png" }).getAttribute("href")).toBe("/api/files/f1/file?x");
    const post = api.calls.find((c) => c.method === "POST" && c.url === "/api/notes");
    expect(post?.body).toMatchObject({ title: "A cat", photo: "f1" });
  });

  it("saves the row only once its upload is done, and takes the same file again after a failure", async () => {
    let finish: (reply: { body: unknown }) => void = () => undefined;
    let attempts = 0;
    const api = renderApp("/r/notes/new", {
      ...signedIn(),
      "GET /api/meta/resources": [meta(), meta()],
      "POST /api/notes/files/photo": () => ({ status: 201, body: { id: "f3", method: "PUT", url: "/api/notes/files/photo/f3", fields: {}, expires_in: 900 } }),
      "PUT /api/notes/files/photo/f3": () => {
        attempts += 1;
        if (attempts === 1) return { status: 503, body: { status: 503, detail: "The store is away." } };
        return new Promise((resolve) => {
          finish = resolve;
        });
      },
    });
    fireEvent.change(await screen.findByLabelText("Title"), { target: { value: "A cat" } });
    const input = screen.getByLabelText("Photo (optional)") as HTMLInputElement;
    fireEvent.change(input, { target: { files: [picture()] } });
    await waitFor(() => expect(screen.getByRole("alert").textContent).toContain("The store is away."));
    expect(input.value).toBe(""); // picking cat.png again is a change, and a retry

    fireEvent.change(input, { target: { files: [picture()] } });
    const create = await screen.findByRole("button", { name: "Uploading…" });
    expect((create as HTMLButtonElement).disabled).toBe(true);
    fireEvent.submit(create.closest("form")!);
    expect(api.calls.some((c) => c.method === "POST" && c.url === "/api/notes")).toBe(false);
    finish({ body: { id: "f3", name: "cat.png", size: 4, content_type: "image/png", thumbnail: true } });
    expect(await screen.findByText("Attached: cat.png.")).toBeTruthy();
    expect((screen.getByRole("button", { name: "Create" }) as HTMLButtonElement).disabled).toBe(false);
    expect(attempts).toBe(2);
  });

  it("refuses a file over the field's limit before sending a byte", async () => {
    const api = renderApp("/r/notes/new", { ...signedIn(), "GET /api/meta/resources": [meta(), meta()] });
    const input = await screen.findByLabelText("Photo (optional)");
    const big = new File([new Uint8Array(2_000_001)], "big.png", { type: "image/png" });
    fireEvent.change(input, { target: { files: [big] } });
    expect((await screen.findByRole("alert")).textContent).toBe("This file is 2.0 MB; at most 2.0 MB is taken.");
    expect(api.calls.some((c) => c.url.includes("/files/"))).toBe(false);
  });

  it("says why the app refused the file", async () => {
    renderApp("/r/notes/new", {
      ...signedIn(),
      "GET /api/meta/resources": [meta(), meta()],
      "POST /api/notes/files/photo": [{ status: 201, body: { id: "f2", method: "PUT", url: "/api/notes/files/photo/f2", fields: {}, expires_in: 900 } }],
      "PUT /api/notes/files/photo/f2": [{ status: 415, body: { status: 415, detail: "a text/plain file is not taken here; give image/png, image/jpeg" } }],
    });
    fireEvent.change(await screen.findByLabelText("Photo (optional)"), { target: { files: [picture()] } });
    await waitFor(() => expect(screen.getByRole("alert").textContent).toContain("a text/plain file is not taken here"));
    expect(screen.getByText("Up to 2.0 MB.")).toBeTruthy();
  });

  it("asks for new links when the page's have expired", async () => {
    const links = (n: number) => ({ body: { id: "f1", name: "cat.png", size: 4, url: `/api/files/f1/file?v${n}`, thumbnail_url: null, expires_in: 300 } });
    const api = renderApp("/r/notes/7", {
      ...signedIn(),
      "GET /api/meta/resources": [meta(), meta()],
      "GET /api/notes/7": [{ body: note({ photo: "f1" }) }],
      "GET /api/notes/7/files/photo": [links(1), links(2)],
    });
    const link = await screen.findByRole("link", { name: "cat.png" });
    expect(link.getAttribute("href")).toBe("/api/files/f1/file?v1");
    const followed: string[] = [];
    vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (this: HTMLAnchorElement) {
      followed.push(this.getAttribute("href") ?? "");
    });
    const now = Date.now();
    vi.spyOn(Date, "now").mockReturnValue(now + 301_000);
    fireEvent.click(link);
    await waitFor(() => expect(followed).toEqual(["/api/files/f1/file?v2"]));
    expect(api.calls.filter((c) => c.url === "/api/notes/7/files/photo")).toHaveLength(2);
    // The page shows the renewed link once React has rendered it.
    await waitFor(() => expect(screen.getByRole("link", { name: "cat.png" }).getAttribute("href")).toBe("/api/files/f1/file?v2"));
  });

  it("opens a storage's signed link in a new tab, and the app's own in place", async () => {
    const signed = "https://bucket.s3.example/files/f1?X-Amz-Signature=abc";
    const links = (url: string) => ({ body: { id: "f1", name: "cat.png", size: 4, url, thumbnail_url: null, expires_in: 300 } });
    const followed: { href: string; target: string; rel: string; download: string }[] = [];
    renderApp("/r/notes/7", {
      ...signedIn(),
      "GET /api/meta/resources": [meta(), meta()],
      "GET /api/notes/7": [{ body: note({ photo: "f1" }) }],
      "GET /api/notes/7/files/photo": [links(signed), links(`${signed}&renewed`)],
    });
    const link = await screen.findByRole("link", { name: "cat.png" });
    expect([link.getAttribute("target"), link.getAttribute("rel")]).toEqual(["_blank", "noopener noreferrer"]);
    vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (this: HTMLAnchorElement) {
      followed.push({ href: this.href, target: this.target, rel: this.rel, download: this.download });
    });
    vi.spyOn(Date, "now").mockReturnValue(Date.now() + 301_000);
    fireEvent.click(link);
    await waitFor(() => expect(followed).toEqual([
      { href: `${signed}&renewed`, target: "_blank", rel: "noopener noreferrer", download: "cat.png" },
    ]));
    cleanup();
    disposeApp();
    renderApp("/r/notes/7", {
      ...signedIn(),
      "GET /api/meta/resources": [meta(), meta()],
      "GET /api/notes/7": [{ body: note({ photo: "f1" }) }],
      "GET /api/notes/7/files/photo": [links("/api/files/f1/file?x")],
    });
    const own = await screen.findByRole("link", { name: "cat.png" });
    expect([own.getAttribute("target"), own.getAttribute("rel"), own.getAttribute("download")]).toEqual([null, null, "cat.png"]);
  });
});
