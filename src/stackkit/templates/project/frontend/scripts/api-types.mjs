// `npm run api:types`: write src/openapi.d.ts, the API's types for src/typedApi.ts, from
// the app's OpenAPI document. Run it after `stackkit generate resource` or any other
// change to the API, with the project's virtual environment active: it runs
// `stackkit openapi` in the project's root, the folder above this frontend.
//
// openapi-typescript builds its output with the TypeScript compiler API, which
// TypeScript 7 (this frontend's compiler) does not offer, so it cannot be a devDependency
// beside it: `npm exec` runs a pinned version with a TypeScript 5 of its own, kept in
// npm's cache rather than in node_modules.
// https://github.com/openapi-ts/openapi-typescript/issues/2841

import { spawnSync } from "node:child_process";
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const GENERATOR = ["openapi-typescript@7.13.0", "typescript@5.9.3"];

const frontend = dirname(dirname(fileURLToPath(import.meta.url)));
const schema = "openapi.json"; // in frontend/, only while this script runs

function run(command, args, cwd) {
  // npm is npm.cmd on Windows, which only a shell starts.
  const shell = command === "npm" && process.platform === "win32";
  const result = spawnSync(command, args, { cwd, stdio: "inherit", shell });
  if (result.error) {
    const hint = command === "stackkit" ? " (activate the project's virtual environment)" : "";
    throw new Error(`could not run ${command}: ${result.error.message}${hint}`);
  }
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} failed (exit ${result.status})`);
}

try {
  run("stackkit", ["openapi", "-o", join(frontend, schema)], dirname(frontend));
  const packages = GENERATOR.map((name) => `--package=${name}`);
  run("npm", ["exec", "--yes", ...packages, "--", "openapi-typescript", schema, "-o", "src/openapi.d.ts"], frontend);
} catch (error) {
  console.error(`api:types: ${error.message}`);
  process.exitCode = 1;
} finally {
  rmSync(join(frontend, schema), { force: true });
}
