// The colour theme: the system's (light or dark, following it as it changes) unless
// this browser chose one. public/theme.js applies the choice before the page paints;
// this module changes it afterwards.

export const THEMES = ["system", "light", "dark"] as const;
export type Theme = (typeof THEMES)[number];

const STORAGE_KEY = "theme";
/** The system's dark setting, where the browser can say (not in a test's jsdom). */
const systemDark = (): MediaQueryList | undefined =>
  typeof matchMedia === "function" ? matchMedia("(prefers-color-scheme: dark)") : undefined;

export function savedTheme(): Theme {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (saved === "light" || saved === "dark") return saved;
  } catch {
    // Storage is off: follow the system.
  }
  return "system";
}

function apply(theme: Theme) {
  const dark = theme === "dark" || (theme === "system" && !!systemDark()?.matches);
  document.documentElement.classList.toggle("dark", dark);
}

/** Use `theme` from now on, in this browser. */
export function chooseTheme(theme: Theme) {
  try {
    if (theme === "system") localStorage.removeItem(STORAGE_KEY);
    else localStorage.setItem(STORAGE_KEY, theme);
  } catch {
    // Not remembered: this page still changes.
  }
  apply(theme);
}

/** Follow the system's changes while no theme is chosen; returns the unsubscribe. */
export function followSystemTheme(): () => void {
  const query = systemDark();
  const changed = () => apply(savedTheme());
  query?.addEventListener("change", changed);
  return () => query?.removeEventListener("change", changed);
}
