import { render } from "@testing-library/react";
import { MemoryRouter } from "react-router";
import { App } from "../App";
import { AuthProvider } from "../auth/AuthContext";
import { Session } from "../auth/session";
import { LocaleRoot } from "../i18n";
import { fakeFetch } from "./fakeFetch";

let session: Session | undefined;

/** The whole app at `path`, its API answered by `routes` (see fakeFetch). */
export function renderApp(path: string, routes: Parameters<typeof fakeFetch>[0]) {
  const api = fakeFetch(routes);
  session = new Session({ fetch: api.fetch });
  render(
    <AuthProvider session={session}>
      <LocaleRoot>
        <MemoryRouter initialEntries={[path]}>
          <App />
        </MemoryRouter>
      </LocaleRoot>
    </AuthProvider>,
  );
  return api;
}

/** Stop the last session's refresh timer (call after each test). */
export function disposeApp() {
  session?.dispose();
  session = undefined;
}
