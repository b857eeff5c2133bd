import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { BrowserRouter } from "react-router";
import { App } from "./App";
import { AuthProvider } from "./auth/AuthContext";
import { LocaleRoot, preferredLocale, setLocale } from "./i18n";
import "./index.css";

const root = document.getElementById("root");
if (!root) throw new Error("index.html has no #root element");

// The first render waits for the language's catalog (none for English); without it
// (offline, or a page older than the deployment), the page comes in English.
void setLocale(preferredLocale(), { remember: false })
  .catch(() => setLocale("en", { remember: false }))
  .then(() => createRoot(root).render(
  <StrictMode>
    <AuthProvider>
      <LocaleRoot>
        <BrowserRouter>
          <App />
        </BrowserRouter>
      </LocaleRoot>
    </AuthProvider>
  </StrictMode>,
));
