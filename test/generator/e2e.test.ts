// End to end, as a user would: pack the package from a clean copy of the repository (prepack builds
// it), `npm install` the tarball into a fresh app with its dependencies from the npm cache or
// registry (no links into this repository), then: a production install carries no compiler,
// `sidetrack generate` asks for ts-morph until it is a dev dependency, the app type-checks under
// `strict` and `exactOptionalPropertyTypes`, CommonJS can require() the package, and the compiled
// app migrates, inserts in Prisma transactions (commit and rollback) and the worker completes the job.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { MIGRATIONS } from "../../runtime/db/migrations/index.js";
// @ts-expect-error a plain .mjs script without type declarations
import { packCleanCopy } from "../../scripts/check-package.mjs";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { fixturesDir, repoRoot } from "./helpers.js";

let project: string;
let db: TestDatabase;

/** The version this repository's lockfile installed, so npm finds it in the local cache. */
const installed = (name: string) =>
  `${name}@${(JSON.parse(fs.readFileSync(path.join(repoRoot, "node_modules", name, "package.json"), "utf8")) as { version: string }).version}`;

const npm = (args: string[]) =>
  execFileSync("npm", [...args, "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"], { cwd: project, encoding: "utf8", stdio: "pipe" });

const run = (command: string, args: string[], env: Record<string, string> = {}) =>
  spawnSync(command, args, { cwd: project, encoding: "utf8", env: { ...process.env, ...env } });

beforeAll(async () => {
  db = await createTestDatabase("gen_e2e");
  project = fs.mkdtempSync(path.join(os.tmpdir(), "sidetrack-e2e-"));
  const tarballs = fs.mkdtempSync(path.join(os.tmpdir(), "sidetrack-e2e-tgz-"));
  const { tarball } = packCleanCopy(tarballs) as { tarball: string };
  const [pgSpec, clientSpec, adapterSpec] = ["pg", "@prisma/client", "@prisma/adapter-pg"].map(installed);
  fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "e2e-app", private: true, type: "module" }, null, 2));
  // What a production image of an app that inserts and works installs: no dev dependencies.
  npm(["install", "--omit=dev", tarball, pgSpec!, clientSpec!, adapterSpec!]);
  for (const file of ["sidetrack.queues.ts", "app.ts", "consumer.ts", "tsconfig.json"]) {
    fs.copyFileSync(path.join(fixturesDir, "e2e", file), path.join(project, file));
  }
  // The app's Prisma client (the User model of the original documentation), generated once for the repo's tests.
  fs.cpSync(path.join(repoRoot, "test/fixtures/prisma/generated"), path.join(project, "prisma/generated"), { recursive: true });
  return () => {
    fs.rmSync(project, { recursive: true, force: true });
    fs.rmSync(tarballs, { recursive: true, force: true });
  };
}, 300_000);

describe("installed package", () => {
  it("a production install is the real package and carries no compiler", () => {
    const modules = path.join(project, "node_modules");
    expect(fs.lstatSync(path.join(modules, "sidetrack")).isSymbolicLink()).toBe(false);
    for (const name of ["typescript", "ts-morph", "@ts-morph", "chokidar"]) expect(fs.existsSync(path.join(modules, name)), name).toBe(false);
    const version = run("npx", ["--no-install", "sidetrack", "--version"]);
    expect(version.status).toBe(0);
    expect(version.stdout.trim()).toBe(JSON.parse(fs.readFileSync(path.join(repoRoot, "package.json"), "utf8")).version);
  });

  it("a CommonJS app can require() it (Node 20.19+ loads ES modules synchronously)", () => {
    fs.writeFileSync(
      path.join(project, "require.cjs"),
      `const { Sidetrack, runMigrations } = require("sidetrack");\n` +
        `const { usePrisma } = require("sidetrack/prisma");\n` +
        `console.log([typeof Sidetrack, typeof runMigrations, typeof usePrisma].join(" "));\n`,
    );
    const r = run(process.execPath, ["require.cjs"]);
    expect(r.stderr).toBe("");
    expect(r.stdout.trim()).toBe("function function function");
  });

  it("sidetrack generate without ts-morph names the dev dependency to install", () => {
    const r = run("npx", ["--no-install", "sidetrack", "generate"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: sidetrack generate needs ts-morph: npm install --save-dev ts-morph\n/);
    expect(fs.existsSync(path.join(project, "sidetrack"))).toBe(false);
  });

  it("with ts-morph as a dev dependency, npx sidetrack generate writes the client from the declaration", () => {
    npm(["install", "--save-dev", ...["ts-morph", "typescript", "@types/node", "@types/pg"].map(installed)]);
    const out = execFileSync("npx", ["--no-install", "sidetrack", "generate"], { cwd: project, encoding: "utf8" });
    expect(out).toContain(`${1 + MIGRATIONS.length} written`);
    expect(fs.readFileSync(path.join(project, "sidetrack/client.ts"), "utf8")).toContain("export async function insertUserOnboarding(");
    expect(execFileSync("npx", ["--no-install", "sidetrack", "generate", "--check"], { cwd: project, encoding: "utf8" })).toContain("up to date");
  });

  it("the app and a consumer of the public API type-check under strict and exactOptionalPropertyTypes", () => {
    // The app's own TypeScript, resolving "sidetrack" to the installed package's declarations.
    const r = run("npx", ["--no-install", "tsc", "-p", ".", "--pretty", "false"]);
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("the compiled app migrates, inserts in Prisma transactions (commit and rollback), and the worker completes the job", () => {
    const r = run(process.execPath, ["build/app.js"], { DATABASE_URL: db.url });
    const line = /^E2E (.*)$/m.exec(r.stdout);
    expect(line, r.stdout + r.stderr).not.toBeNull();
    const report = JSON.parse(line![1]!) as Record<string, unknown>;
    expect(report.error, "the app failed").toBeUndefined();
    expect(report.migrated).toEqual(MIGRATIONS.map((m) => m.version));
    expect(report.jobEmails).toEqual(["committed@example.com"]);
    expect(report.users).toBe(1);
    expect(report.handled).toEqual(["committed@example.com"]);
    expect(report.finalStatus).toBe("completed");
  });
});
