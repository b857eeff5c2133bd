// Typed calls to the app's API: paths, parameters, bodies and answers are checked
// against src/openapi.d.ts, which `npm run api:types` writes from the API's OpenAPI
// document. Every call goes through the session's `request`, so a 401 still leads to one
// refresh and one retry. openapi.d.ts is imported for its types only: none of it reaches
// the bundle.

import type { Query, RequestOptions } from "./api";
import type { components, paths } from "./openapi";

/** The session's request: `useAuth().request`, or `session.request.bind(session)`. */
export type RequestFn = <T>(path: string, options?: Omit<RequestOptions, "token">) => Promise<T>;

export type Method = "get" | "post" | "put" | "patch" | "delete";

/** One of the API's schemas, by name: `Schema<"UserOut">`. */
export type Schema<Name extends keyof components["schemas"]> = components["schemas"][Name];

/** An operation as openapi-typescript writes it. */
interface Operation {
  parameters: { path?: unknown; query?: unknown };
  requestBody?: unknown;
  responses: object;
}

/** The paths that answer `method`, such as `PathsWith<paths, "delete">`. */
export type PathsWith<Paths, M extends Method> = {
  [P in keyof Paths]: Paths[P] extends { [K in M]: Operation } ? P : never;
}[keyof Paths] &
  string;

type OperationAt<Paths, P extends keyof Paths, M extends Method> =
  Paths[P] extends { [K in M]: infer Op extends Operation } ? Op : never;

/** The JSON of a request body or a response; `undefined` where there is none. */
type JsonOf<T> = T extends { content: { "application/json": infer Body } } ? Body : undefined;

type Success = 200 | 201 | 202 | 203 | 204 | 206;

/** What a call resolves to: the JSON of its 2xx answer (`undefined` for a 204). */
export type Answer<Op extends Operation> = JsonOf<Op["responses"][keyof Op["responses"] & Success]>;

/** `params` fills the path's `{placeholders}`. */
type PathOption<Op extends Operation> = Op["parameters"] extends { path: infer Params }
  ? { params: Params }
  : { params?: never };

/** The declared query parameters keep their types; other filters (`title__contains`) pass. */
type QueryOption<Op extends Operation> = [NonNullable<Op["parameters"]["query"]>] extends [never]
  ? { query?: never }
  : { query?: NonNullable<Op["parameters"]["query"]> & Query };

type BodyOption<Op extends Operation> = undefined extends Op["requestBody"]
  ? { body?: JsonOf<Op["requestBody"]> }
  : { body: JsonOf<Op["requestBody"]> };

export type CallOptions<Op extends Operation> = PathOption<Op> &
  QueryOption<Op> &
  BodyOption<Op> &
  Pick<RequestOptions, "headers" | "signal">;

/** A call for one method; the options may be left out when none of them is required. */
type Caller<Paths, M extends Method> = <P extends PathsWith<Paths, M>>(
  path: P,
  ...options: {} extends CallOptions<OperationAt<Paths, P, M>>
    ? [options?: CallOptions<OperationAt<Paths, P, M>>]
    : [options: CallOptions<OperationAt<Paths, P, M>>]
) => Promise<Answer<OperationAt<Paths, P, M>>>;

export type TypedApi<Paths = paths> = { [M in Method]: Caller<Paths, M> };

/** `/api/notes/{id}` with `{ id: 7 }` is `/api/notes/7`; each value is URL-encoded. */
export function fillPath(path: string, params: Record<string, unknown> = {}): string {
  return path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = params[name];
    if (value === undefined || value === null) throw new Error(`${path}: no value for {${name}}`);
    return encodeURIComponent(String(value));
  });
}

/**
 * Typed calls over the session's `request`:
 *
 *     const { request } = useAuth();
 *     const api = useMemo(() => typedApi(request), [request]);
 *     const note = await api.get("/api/notes/{id}", { params: { id: 7 } });
 *
 * Errors are those of `request`: an `ApiError` for any answer that is not 2xx.
 */
export function typedApi<Paths = paths>(request: RequestFn): TypedApi<Paths> {
  const call =
    (method: Method) =>
    (path: string, { params, ...options }: Omit<RequestOptions, "token"> & { params?: object } = {}) =>
      request(fillPath(path, { ...params }), { ...options, method: method.toUpperCase() });
  return {
    get: call("get"),
    post: call("post"),
    put: call("put"),
    patch: call("patch"),
    delete: call("delete"),
  } as unknown as TypedApi<Paths>;
}
