import { t } from "../i18n";

/** "Chrome on Linux" from a User-Agent header, or the header itself. */
export function describeAgent(agent: string | null | undefined): string {
  if (!agent) return t("Unknown device");
  const browser = /Edg\//.test(agent)
    ? "Edge" // i18n: not text
    : /Firefox\//.test(agent)
      ? "Firefox" // i18n: not text
      : /Chrom(e|ium)\//.test(agent)
        ? "Chrome" // i18n: not text
        : /Safari\//.test(agent)
          ? "Safari" // i18n: not text
          : null;
  const system = /Windows/.test(agent)
    ? "Windows" // i18n: not text
    : /Android/.test(agent)
      ? "Android" // i18n: not text
      : /iPhone|iPad/.test(agent)
        ? "iOS" // i18n: not text
        : /Mac OS X/.test(agent)
          ? "macOS" // i18n: not text
          : /Linux/.test(agent)
            ? "Linux" // i18n: not text
            : null;
  if (!browser) return agent.length > 60 ? `${agent.slice(0, 57)}…` : agent;
  return system ? t("{browser} on {system}", { browser, system }) : browser;
}
