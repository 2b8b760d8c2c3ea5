// The layout's import rules (docs/architecture.md), checked on every run: each rule reads the
// imports of every file of a folder and lists the ones that cross a boundary they must not.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "..");

function files(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|mts|mjs)$/.test(e.name))
    .map((e) => relative(root, join(e.parentPath, e.name)));
}

/** The repository-relative targets of a file's relative imports, and its bare package imports. */
export function importsOf(file: string, source = readFileSync(join(root, file), "utf8")): string[] {
  const specifiers = [...source.matchAll(/(?:^|\n)\s*(?:import|export)\s[^"';]*?from\s*["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g)].map(
    (m) => m[1] ?? m[2]!,
  );
  return specifiers.map((s) => (s.startsWith(".") ? relative(root, resolve(root, dirname(file), s)) : s));
}

/** Imports of files under `from` that land under any of `forbidden` (folders or packages). */
function crossings(from: string, forbidden: string[]): string[] {
  return files(from).flatMap((file) =>
    importsOf(file)
      .filter((target) => forbidden.some((f) => target === f || target.startsWith(`${f}/`)))
      .map((target) => `${file} imports ${target}`),
  );
}

describe("import direction", () => {
  it("runtime/ never imports the generator, the CLI, the dashboard, templates or a compiler", () => {
    expect(crossings("runtime", ["generator", "cli", "dashboard", "templates", "bench", "scripts", "test", "ts-morph", "typescript", "chokidar"])).toEqual([]);
  });

  it("config/ and the public types depend on nothing of the engine", () => {
    const engine = ["runtime/client", "runtime/worker", "runtime/cron", "runtime/insert", "runtime/db"];
    expect(crossings("runtime/config", engine)).toEqual([]);
    expect(importsOf("runtime/types.ts").filter((t) => t.startsWith("runtime/"))).toEqual([]);
    expect(importsOf("runtime/errors.ts").filter((t) => t.startsWith("runtime/"))).toEqual([]);
  });

  it("db/ knows nothing of who calls it; insert/ and worker/ never reach up into client/", () => {
    expect(crossings("runtime/db", ["runtime/client", "runtime/worker", "runtime/cron", "runtime/insert"])).toEqual([]);
    expect(crossings("runtime/insert", ["runtime/client", "runtime/worker", "runtime/cron"])).toEqual([]);
    expect(crossings("runtime/worker", ["runtime/client"])).toEqual([]);
    expect(crossings("runtime/cron", ["runtime/client"])).toEqual([]);
  });

  it("telemetry/ is called by the engine, never calls into it", () => {
    expect(crossings("runtime/telemetry", ["runtime/client", "runtime/worker", "runtime/insert", "runtime/cron"])).toEqual([]);
  });

  it("runtime/ imports @opentelemetry only as types (the API is loaded by telemetry/otel.ts if installed)", () => {
    const valueImports = files("runtime").flatMap((file) =>
      [...readFileSync(join(root, file), "utf8").matchAll(/(?:^|\n)\s*(import|export)\s+(?!type\s)[^"';]*?from\s*["'](@opentelemetry\/[^"']+)["']/g)].map(
        (m) => `${file} imports ${m[2]}`,
      ),
    );
    expect(valueImports).toEqual([]);
    // The check sees a value import, and lets a type import through.
    const probe = 'import type { Span } from "@opentelemetry/api";\nimport { trace } from "@opentelemetry/api";';
    expect([...probe.matchAll(/(?:^|\n)\s*(import|export)\s+(?!type\s)[^"';]*?from\s*["'](@opentelemetry\/[^"']+)["']/g)]).toHaveLength(1);
  });

  it("cli/ uses runtime functions, never runtime's SQL", () => {
    expect(crossings("cli", ["runtime/db/sql"])).toEqual([]);
  });

  it("dashboard/ uses runtime functions, never the generator, the CLI or runtime's SQL", () => {
    expect(crossings("dashboard", ["generator", "cli", "templates", "runtime/db/sql", "ts-morph", "typescript"])).toEqual([]);
  });

  it("only the generator imports templates/", () => {
    const outside = ["runtime", "cli", "bin"].flatMap((dir) => crossings(dir, ["templates"]));
    expect(outside).toEqual([]);
  });

  it("the check itself sees a crossing", () => {
    const source = 'import { x } from "../../generator/index.js";\nexport { y } from "./sql/fetchJobs.js";\nconst g = await import("../templates/client.js");';
    expect(importsOf("runtime/db/rows.ts", source)).toEqual(["generator/index.js", "runtime/db/sql/fetchJobs.js", "runtime/templates/client.js"]);
    // The generator does import the runtime: a rule forbidding that would report it.
    expect(crossings("generator", ["runtime"]).length).toBeGreaterThan(0);
  });
});
