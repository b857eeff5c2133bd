import { useEffect, useState } from "react";
import { LOCALES, setLocale, t, useLocale, type Locale } from "../i18n";
import { THEMES, chooseTheme, followSystemTheme, savedTheme, type Theme } from "../theme";

const selectClass =
  "rounded-md border border-slate-300 bg-white px-2 py-1 text-sm text-slate-700 focus:outline-none focus:ring-2 focus:ring-indigo-200";

const themeNames: Record<Theme, () => string> = {
  system: () => t("System"),
  light: () => t("Light"),
  dark: () => t("Dark"),
};

/** The theme and language switches, remembered in this browser. */
export function Preferences() {
  const locale = useLocale();
  const [theme, setTheme] = useState(savedTheme);
  useEffect(followSystemTheme, []);

  return (
    <div className="flex flex-wrap items-center gap-4 text-sm text-slate-600">
      <label className="flex items-center gap-2">
        {t("Theme")}
        <select
          className={selectClass}
          value={theme}
          onChange={(event) => {
            const chosen = event.target.value as Theme;
            chooseTheme(chosen);
            setTheme(chosen);
          }}
        >
          {THEMES.map((name) => (
            <option key={name} value={name}>
              {themeNames[name]()}
            </option>
          ))}
        </select>
      </label>
      <label className="flex items-center gap-2">
        {t("Language")}
        <select className={selectClass} value={locale} onChange={(event) => void setLocale(event.target.value as Locale).catch(() => undefined)}>
          {Object.entries(LOCALES).map(([code, name]) => (
            <option key={code} value={code} lang={code}>
              {name}
            </option>
          ))}
        </select>
      </label>
    </div>
  );
}
