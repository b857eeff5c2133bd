import { afterEach, describe, expect, it } from "vitest";
import { LOCALES, formatNumber, plural, preferredLocale, setLocale, t, type Catalog } from "./i18n";
import de from "./locales/de.json";

// The SPA's own code, as text: every message it shows must go through `t` or `plural`.
const sources = import.meta.glob(["./**/*.{ts,tsx}", "!./**/*.test.{ts,tsx}", "!./test/**", "!./openapi.d.ts"], {
  query: "?raw",
  import: "default",
  eager: true,
}) as Record<string, string>;

const STRING = String.raw`"((?:[^"\\]|\\.)*)"`;

/** The code without its comments, line for line (a `//` inside a string is rare
 *  enough here). */
function code(source: string): string {
  return source
    .replace(/\/\*[\s\S]*?\*\//g, (comment) => comment.replace(/[^\n]/g, ""))
    .replace(/(^|[^:"'`])\/\/.*$/gm, "$1");
}

interface Message {
  key: string;
  plural: boolean;
  where: string;
}

function messages(): Message[] {
  const found: Message[] = [];
  for (const [file, source] of Object.entries(sources)) {
    const text = code(source);
    for (const match of text.matchAll(new RegExp(String.raw`\bt\(\s*${STRING}`, "g"))) {
      found.push({ key: JSON.parse(`"${match[1]}"`) as string, plural: false, where: file });
    }
    for (const match of text.matchAll(new RegExp(String.raw`\bplural\([^{]*\{(?:[^{}]|\{\w+\})*?\bother:\s*${STRING}`, "g"))) {
      found.push({ key: JSON.parse(`"${match[1]}"`) as string, plural: true, where: file });
    }
  }
  return found;
}

/** Text a user would read that is not passed through `t`: JSX text, text-bearing
 *  attributes, and capitalised sentences in string or template literals. A line
 *  that is not such text (a header's value) says so with an `i18n: not text` comment. */
function untranslated(): string[] {
  const found: string[] = [];
  for (const [file, source] of Object.entries(sources)) {
    const original = source.split("\n");
    // Messages already passed to t() or plural() are emptied (a long one may span lines).
    const lines = code(source)
      .replace(new RegExp(String.raw`(\bt\(\s*|\b(?:zero|one|two|few|many|other):\s*)${STRING}`, "g"), '$1""')
      .split("\n");
    lines.forEach((line, index) => {
      if (original[index]?.includes("i18n: not text")) return;
      const where = `${file}:${index + 1}: ${line.trim()}`;
      const checks = [
        // JSX text on a line of its own (a capitalised word, or words), or between a
        // tag and its closing tag.
        file.endsWith(".tsx") && /^\s*(?:[A-Z]|[a-z]+ )[^<>{}=;:()"'`|&?]*$/.test(line),
        />[^<>{}=]*[A-Za-z][^<>{}=]*<\//.test(line),
        /\b(?:label|title|placeholder|alt|aria-label|hint|what|\w+Label|\w+Text|description)="[^"]*[A-Za-z][^"]*"/.test(line),
        // A sentence in quotes or backticks.
        /"[A-Z][a-z]*[ ,.!?…][^"]*"/.test(line),
        /`[A-Z][a-z]*[ ,.!?…][^`]*`/.test(line),
        // A word in quotes as an alternative or a value: `busy ? "Saving" : "Save"`.
        /(?:[?:]|\?\?|\|\|)\s*"[A-Z][a-z]+"/.test(line),
      ];
      if (checks.some(Boolean)) found.push(where);
    });
  }
  return found;
}

function placeholders(text: string): string[] {
  return [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1] ?? "").sort();
}

describe("message catalogs", () => {
  const catalog: Catalog = de;

  it("leaves no text a user reads out of the catalogs", () => {
    expect(untranslated()).toEqual([]);
  });

  it("translates every message into German, with the same placeholders", () => {
    const missing: string[] = [];
    for (const message of messages()) {
      const entry = catalog[message.key];
      if (entry === undefined || typeof entry === "object" !== message.plural) {
        missing.push(`${message.where}: ${message.key}`);
        continue;
      }
      const forms = typeof entry === "string" ? [entry] : Object.values(entry);
      for (const form of forms) {
        expect(placeholders(form).filter((p) => p !== "count"), message.key).toEqual(
          placeholders(message.key).filter((p) => p !== "count"),
        );
      }
    }
    expect(missing).toEqual([]);
  });

  it("keeps no translation of a message the SPA no longer has", () => {
    const used = new Set(messages().map((m) => m.key));
    expect(Object.keys(catalog).filter((key) => !used.has(key))).toEqual([]);
  });
});

describe("switching language", () => {
  afterEach(async () => {
    await setLocale("en");
    localStorage.clear();
  });

  it("translates, fills placeholders and formats numbers for the language", async () => {
    expect(t("Language")).toBe("Language");
    await setLocale("de");
    expect(document.documentElement.lang).toBe("de");
    expect(t("Language")).toBe(de.Language);
    expect(formatNumber(1234.5)).toBe("1.234,5");
    expect(t("Not a message {name}", { name: "x" })).toBe("Not a message x");
  });

  it("picks the plural form by the language's rules", async () => {
    const forms = { one: "Try again in {count} second.", other: "Try again in {count} seconds." };
    expect(plural(1, forms)).toBe("Try again in 1 second.");
    expect(plural(1200, forms)).toBe("Try again in 1,200 seconds.");
    await setLocale("de");
    expect(plural(1, forms)).toBe("Versuchen Sie es in 1 Sekunde erneut.");
    expect(plural(1200, forms)).toBe("Versuchen Sie es in 1.200 Sekunden erneut.");
  });

  it("keeps the language picked last, whichever catalog arrives first", async () => {
    const german = setLocale("de");
    await setLocale("en");
    await german;
    expect(t("Language")).toBe("Language");
    expect(document.documentElement.lang).toBe("en");
  });

  it("remembers the choice, else follows the browser's languages", async () => {
    expect(Object.keys(LOCALES)).toContain(preferredLocale());
    await setLocale("de");
    expect(preferredLocale()).toBe("de");
    localStorage.clear();
    Object.defineProperty(navigator, "languages", { value: ["fr-FR", "de-AT", "en"], configurable: true });
    try {
      expect(preferredLocale()).toBe("de");
    } finally {
      Reflect.deleteProperty(navigator, "languages");
    }
  });
});
