#!/usr/bin/env node
// Runs jsh without a build step. Loading the TypeScript sources through tsx costs
// about 1.5 s of CPU per start (jsh is started once per `jsh ssh`, and by OpenSSH
// once per connection as ProxyCommand), so the first run bundles src/cli/jsh.ts
// with esbuild (which tsx brings) into node_modules/.cache/jumpgate/ and later
// runs load that bundle, rebuilt whenever one of its inputs changed. Anything
// unusual (no esbuild, a read-only tree, JSH_NO_BUNDLE=1) falls back to tsx.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ENTRY = "src/cli/jsh.ts";
const CACHE = join(ROOT, "node_modules", ".cache", "jumpgate");
const MANIFEST = join(CACHE, "jsh.json");
// Packages with native parts (or optional native parts) stay outside the bundle.
const EXTERNAL = ["ssh2", "cpu-features", "node-pty", "better-sqlite3", "argon2", "pg-native", "esbuild", "tsx"];
// Part of the manifest: a change here (or another Node) rebuilds.
const RECIPE = `v2 ${process.version} ${EXTERNAL.join(",")}`;

/** The bundle's path when the manifest matches every input's size and mtime. */
function freshBundle() {
  let m;
  try {
    m = JSON.parse(readFileSync(MANIFEST, "utf8"));
  } catch {
    return undefined;
  }
  if (m.recipe !== RECIPE || typeof m.bundle !== "string" || typeof m.inputs !== "object") return undefined;
  for (const [file, [size, mtimeMs]] of Object.entries(m.inputs)) {
    try {
      const st = statSync(join(ROOT, file));
      if (st.size !== size || st.mtimeMs !== mtimeMs) return undefined;
    } catch {
      return undefined;
    }
  }
  return join(CACHE, m.bundle);
}

async function build() {
  const esbuild = await import("esbuild");
  mkdirSync(CACHE, { recursive: true });
  const started = Date.now();
  const name = `jsh-${process.pid}-${started}.mjs`;
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: [ENTRY],
    outfile: join(CACHE, name),
    bundle: true,
    platform: "node",
    format: "esm",
    target: `node${process.versions.node.split(".")[0]}`,
    external: EXTERNAL,
    // Bundled CommonJS packages call require() for Node's own modules.
    banner: { js: 'import { createRequire as __jgCreateRequire } from "node:module"; const require = __jgCreateRequire(import.meta.url);' },
    // Code that tells errors apart by constructor name (commander's CommanderError) needs the names kept.
    keepNames: true,
    metafile: true,
    logLevel: "silent",
  });
  const inputs = {};
  let settled = true;
  for (const file of Object.keys(result.metafile.inputs)) {
    const st = statSync(join(ROOT, file));
    inputs[file] = [st.size, st.mtimeMs];
    // Edited while esbuild read it: this run uses the bundle, the next one builds again.
    if (st.mtimeMs >= started - 1000) settled = false;
  }
  if (!settled) return join(CACHE, name);
  // The manifest names the new bundle only once it is complete (rename is atomic), so concurrent starts never see half a file.
  const tmp = `${MANIFEST}.${process.pid}`;
  writeFileSync(tmp, JSON.stringify({ recipe: RECIPE, bundle: name, inputs }));
  renameSync(tmp, MANIFEST);
  // Older bundles go once no start can still be about to load them.
  for (const f of readdirSync(CACHE)) {
    if (!/^jsh-.*\.mjs$/.test(f) || f === name) continue;
    try {
      if (Date.now() - statSync(join(CACHE, f)).mtimeMs > 10 * 60_000) rmSync(join(CACHE, f), { force: true });
    } catch {
      // another start removed it
    }
  }
  return join(CACHE, name);
}

async function bundled() {
  if (process.env.JSH_NO_BUNDLE === "1") return undefined;
  try {
    return freshBundle() ?? (await build());
  } catch {
    return undefined;
  }
}

async function viaTsx() {
  const { register } = await import("tsx/esm/api");
  register();
  await import("../src/cli/jsh.ts");
}

const bundle = await bundled();
if (!bundle) {
  await viaTsx();
} else {
  try {
    await import(pathToFileURL(bundle).href);
  } catch (e) {
    // A bundle that cannot even be linked (a package moved, a syntax Node rejects): the sources still run.
    if (!(e instanceof SyntaxError || e?.code === "ERR_MODULE_NOT_FOUND")) throw e;
    await viaTsx();
  }
}
