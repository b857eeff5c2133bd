// The SPA's languages. Every string it shows goes through `t` (or `plural`): the
// English text is the message's key, and another language's catalog
// (src/locales/<code>.json) maps it to a translation, loaded only when that language
// is chosen. Dates and numbers are formatted for the language too.
import { Fragment, createElement, useSyncExternalStore, type ReactNode } from "react";

/** The languages the SPA speaks, each named in itself (for the language switch). */
export const LOCALES = { en: "English", de: "Deutsch" } as const; // i18n: not text
export type Locale = keyof typeof LOCALES;

/** Plural forms of a message, by `Intl.PluralRules` category. */
export type Plural = Partial<Record<Intl.LDMLPluralRule, string>> & { other: string };
export type Catalog = Record<string, string | Plural>;
type Values = Record<string, string | number>;

const STORAGE_KEY = "locale";
const catalogs: Record<Exclude<Locale, "en">, () => Promise<{ default: Catalog }>> = {
  de: () => import("./locales/de.json"),
};

let current: Locale = "en";
let catalog: Catalog = {};
let switching = 0;
const listeners = new Set<() => void>();

function isLocale(code: string | null | undefined): code is Locale {
  return !!code && Object.hasOwn(LOCALES, code);
}

/** The language chosen in this browser before, else the first of its preferred
 *  languages the SPA speaks, else English. */
export function preferredLocale(): Locale {
  let saved: string | null = null;
  try {
    saved = localStorage.getItem(STORAGE_KEY);
  } catch {
    // Storage is off: go by the browser's languages.
  }
  if (isLocale(saved)) return saved;
  for (const tag of navigator.languages ?? []) {
    const code = tag.split("-")[0]?.toLowerCase();
    if (isLocale(code)) return code;
  }
  return "en";
}

/** Switch to `locale` (loading its catalog first), and remember the choice when
 *  `remember`: the page then renders again in it. */
export async function setLocale(locale: Locale, { remember = true } = {}): Promise<void> {
  const turn = ++switching;
  const next = locale === "en" ? {} : (await catalogs[locale]()).default;
  if (turn !== switching) return; // another language was picked meanwhile
  current = locale;
  catalog = next;
  document.documentElement.lang = locale;
  if (remember) {
    try {
      localStorage.setItem(STORAGE_KEY, locale);
    } catch {
      // Not remembered: the next visit goes by the browser's languages again.
    }
  }
  for (const listener of listeners) listener();
}

export function currentLocale(): Locale {
  return current;
}

function subscribe(listener: () => void) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/** The current language; the component renders again when it changes. */
export function useLocale(): Locale {
  return useSyncExternalStore(subscribe, currentLocale);
}

/** Renders `children` anew in each language (their state starts over). */
export function LocaleRoot({ children }: { children: ReactNode }) {
  return createElement(Fragment, { key: useLocale() }, children);
}

function fill(text: string, values?: Values): string {
  if (!values) return text;
  return text.replace(/\{(\w+)\}/g, (whole, name: string) => {
    const value = values[name];
    if (value === undefined) return whole;
    return typeof value === "number" ? formatNumber(value) : value;
  });
}

/** The message in the current language, its `{name}` placeholders filled in (numbers
 *  formatted for the language). */
export function t(message: string, values?: Values): string {
  const translated = catalog[message];
  return fill(typeof translated === "string" ? translated : message, values);
}

/** The form of the message for `count` (`{count}` is filled in with it); the English
 *  `other` form is the message's key. */
export function plural(count: number, forms: Plural, values?: Values): string {
  const translated = catalog[forms.other];
  const chosen = typeof translated === "object" ? translated : forms;
  const rule = new Intl.PluralRules(current).select(count);
  return fill(chosen[rule] ?? chosen.other, { count, ...values });
}

/** A title as it reads inside a sentence ("New note"): lower case in English, as it
 *  is in German, where nouns keep their capital. */
export function inSentence(title: string): string {
  return current === "en" ? title.toLowerCase() : title;
}

export function formatNumber(value: number, options?: Intl.NumberFormatOptions): string {
  return new Intl.NumberFormat(current, options).format(value);
}

/** The language's decimal separator ("," in German). */
function decimalSeparator(): string {
  return formatNumber(1.5).charAt(1);
}

/** A number as the API writes it ("12.50"), with the language's decimal separator
 *  ("12,50"), digit for digit. */
export function localDecimal(text: string): string {
  return text.replace(".", decimalSeparator());
}

/** A number typed with the language's decimal separator, as the API takes it; null
 *  for one with a point where the language writes a comma (`1.000` in German is a
 *  thousand, not one). */
export function plainDecimal(text: string): string | null {
  const separator = decimalSeparator();
  if (separator === ".") return text;
  return text.includes(".") ? null : text.replace(separator, ".");
}

/** A date and time from the API (ISO 8601), as the language writes it. */
export function formatDateTime(iso: string): string {
  return new Date(iso).toLocaleString(current, { dateStyle: "medium", timeStyle: "short" });
}

/** A day from the API (ISO 8601), as the language writes it. */
export function formatDate(iso: string): string {
  return new Date(iso).toLocaleDateString(current, { dateStyle: "medium" });
}
