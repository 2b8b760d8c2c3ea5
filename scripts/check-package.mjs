#!/usr/bin/env node
// `npm run check:package` (run by .ci/run): packs Sidetrack the way a registry user gets it and
// checks the tarball. The pack runs in a copy of the repository's committed and untracked files
// (what a fresh clone holds: no dist/), so it proves that `prepack` builds everything the package
// needs. Then it asserts the file list, prints the size, and runs publint and
// @arethetypeswrong/cli on the tarball.
//
// Also imported by the end-to-end test (test/generator/e2e.test.ts), which installs the same tarball.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("..", import.meta.url));

/** What the tarball may hold: the manifest and docs, and compiled output with its types and maps. */
const ALLOWED = [/^package\.json$/, /^README\.md$/, /^CHANGELOG\.md$/, /^LICENSE$/, /^dist\/.+\.(js|d\.ts|js\.map)$/];
/** What it must hold: both entry points with their types, the command, the generator and its templates. */
const REQUIRED = [
  "package.json",
  "README.md",
  "CHANGELOG.md",
  "LICENSE",
  "dist/runtime/index.js",
  "dist/runtime/index.d.ts",
  "dist/runtime/prisma.js",
  "dist/runtime/prisma.d.ts",
  "dist/runtime/generated.js",
  "dist/runtime/generated.d.ts",
  "dist/bin/sidetrack.js",
  "dist/cli/main.js",
  "dist/generator/index.js",
  "dist/templates/client.js",
];
/** Never shipped: tests, fixtures, examples, benchmarks, scripts. */
const FORBIDDEN = /(^|\/)(test|tests|fixtures|examples|bench|scripts|node_modules)\//;
/** Packages a production install must not pull in (the generator's, loaded only by `sidetrack generate`). */
const DEV_ONLY = ["ts-morph", "chokidar", "typescript"];

/**
 * Copies the files a fresh clone would hold into a temporary folder and runs `npm pack` there.
 * node_modules is linked from this checkout rather than installed again: `npm ci` would build
 * the same tree from the same lockfile, and prepack needs only the compiler from it.
 */
export function packCleanCopy(destination) {
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), "sidetrack-pack-"));
  try {
    const listed = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: repoRoot, encoding: "utf8" });
    for (const file of listed.split("\0").filter(Boolean)) {
      const source = path.join(repoRoot, file);
      if (!fs.existsSync(source)) continue; // deleted in the working tree
      fs.mkdirSync(path.dirname(path.join(copy, file)), { recursive: true });
      fs.copyFileSync(source, path.join(copy, file));
      fs.chmodSync(path.join(copy, file), fs.statSync(source).mode);
    }
    if (fs.existsSync(path.join(copy, "dist"))) throw new Error("dist/ is tracked or unignored: a clean copy must not hold a build");
    fs.symlinkSync(path.join(repoRoot, "node_modules"), path.join(copy, "node_modules"));
    fs.mkdirSync(destination, { recursive: true });
    const out = execFileSync("npm", ["pack", "--json", "--pack-destination", destination], {
      cwd: copy,
      encoding: "utf8",
      // prepack's build output would otherwise interleave with the JSON on stdout.
      env: { ...process.env, npm_config_foreground_scripts: "false", npm_config_loglevel: "error" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const [info] = JSON.parse(out.slice(out.indexOf("\n[") + 1 || out.indexOf("[")));
    return {
      tarball: path.join(destination, info.filename),
      files: info.files.map((f) => f.path).sort(),
      size: info.size,
      unpackedSize: info.unpackedSize,
    };
  } finally {
    fs.rmSync(copy, { recursive: true, force: true });
  }
}

/** Every problem with the packed file list and manifest; empty when the package is right. */
export function packageProblems(packed) {
  const problems = [];
  for (const file of packed.files) {
    if (!ALLOWED.some((pattern) => pattern.test(file))) problems.push(`unexpected file in the tarball: ${file}`);
    if (FORBIDDEN.test(file)) problems.push(`test or development file in the tarball: ${file}`);
  }
  for (const file of REQUIRED) if (!packed.files.includes(file)) problems.push(`missing from the tarball: ${file}`);
  const manifest = JSON.parse(execFileSync("tar", ["-xzOf", packed.tarball, "package/package.json"], { encoding: "utf8" }));
  for (const name of DEV_ONLY) {
    if (manifest.dependencies?.[name]) problems.push(`${name} is a runtime dependency: production installs would carry it`);
  }
  // Source maps must carry their sources: the .ts files they name are not shipped.
  const maps = packed.files.filter((f) => f.endsWith(".js.map"));
  const mapText = execFileSync("tar", ["-xzOf", packed.tarball, ...maps.map((f) => `package/${f}`)], { encoding: "utf8", maxBuffer: 64 << 20 });
  for (const [i, text] of mapText.split(/(?<=\})(?=\{"version")/).entries()) {
    const map = JSON.parse(text);
    if (!Array.isArray(map.sourcesContent) || map.sourcesContent.length !== map.sources.length || map.sourcesContent.some((s) => typeof s !== "string")) {
      problems.push(`source map without its sources: ${maps[i]}`);
    }
  }
  return problems;
}

function run(bin, args) {
  console.log(`\n$ ${bin} ${args.join(" ")}`);
  execFileSync(path.join(repoRoot, "node_modules/.bin", bin), args, { cwd: repoRoot, stdio: "inherit" });
}

const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;

if (process.argv[1] && fs.realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const destination = fs.mkdtempSync(path.join(os.tmpdir(), "sidetrack-tarball-"));
  try {
    const packed = packCleanCopy(destination);
    console.log(`packed ${path.basename(packed.tarball)} from a clean copy: ${packed.files.length} files, ${kib(packed.size)} (${kib(packed.unpackedSize)} unpacked)`);
    const problems = packageProblems(packed);
    for (const problem of problems) console.error(`check-package: ${problem}`);
    if (problems.length > 0) process.exit(1);
    console.log("file list: ok (dist/ .js, .d.ts and .js.map with inline sources; package.json, README.md, CHANGELOG.md, LICENSE)");
    // --strict: publint's warnings fail the check too.
    run("publint", ["run", packed.tarball, "--strict"]);
    // esm-only: Sidetrack ships only ES modules, so attw's CommonJS-under-node16 resolution (which
    // TypeScript types as "import() only") is not a defect; node10 resolution is out of scope too.
    run("attw", [packed.tarball, "--profile", "esm-only"]);
  } finally {
    fs.rmSync(destination, { recursive: true, force: true });
  }
}
