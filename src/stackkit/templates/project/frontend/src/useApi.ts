import { useCallback, useEffect, useState, type FormEvent } from "react";
import { useAuth } from "./auth/AuthContext";

export type Loadable<T> =
  | { state: "loading" }
  | { state: "error"; error: unknown }
  | { state: "done"; data: T };

/** GET `path` (with the session's token) whenever it changes; `reload` fetches it again. */
export function useApi<T>(path: string): Loadable<T> & { reload: () => void } {
  const { request } = useAuth();
  const [result, setResult] = useState<{ path: string; value: Loadable<T> }>({ path, value: { state: "loading" } });
  const [attempt, setAttempt] = useState(0);

  useEffect(() => {
    const controller = new AbortController();
    setResult({ path, value: { state: "loading" } });
    request<T>(path, { signal: controller.signal }).then(
      (data) => setResult({ path, value: { state: "done", data } }),
      (error: unknown) => {
        if (!controller.signal.aborted) setResult({ path, value: { state: "error", error } });
      },
    );
    return () => controller.abort();
  }, [request, path, attempt]);

  const reload = useCallback(() => setAttempt((n) => n + 1), []);
  const value: Loadable<T> = result.path === path ? result.value : { state: "loading" };
  return { ...value, reload };
}

export interface Submission {
  busy: boolean;
  /** What the last attempt threw (null after a success, or before any). */
  error: unknown;
  /** Whether the last attempt succeeded. */
  done: boolean;
  onSubmit: (event: FormEvent<HTMLFormElement>) => void;
}

/** A form's submission: `action` runs once at a time; its outcome is kept for the page. */
export function useSubmit(action: () => Promise<unknown>): Submission {
  const [state, setState] = useState<Omit<Submission, "onSubmit">>({ busy: false, error: null, done: false });
  const onSubmit = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    if (state.busy) return;
    setState({ busy: true, error: null, done: false });
    action().then(
      () => setState({ busy: false, error: null, done: true }),
      (error: unknown) => setState({ busy: false, error, done: false }),
    );
  };
  return { ...state, onSubmit };
}
