// The embedded-PostgreSQL harness (scripts/embedded-postgres.ts), which `npm test` falls back to
// without DATABASE_URL or Docker: it must work wherever the project lives, and fail at once, in one
// line, when it cannot.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import { createServer, type Server } from "node:net";
import os from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import { EmbeddedPostgresError, startEmbeddedPostgres } from "../scripts/embedded-postgres.js";
import { repoRoot } from "./generator/helpers.js";

const asRoot = process.getuid?.() === 0;

describe("embedded PostgreSQL", () => {
  // As root, PostgreSQL runs as the `postgres` user, who cannot enter a 0700 folder of root's (a
  // home folder, a `mktemp -d` checkout). The harness must still start from there.
  it.skipIf(!asRoot)("starts from a project in a 0700 folder as root", () => {
    const locked = fs.mkdtempSync(path.join(os.tmpdir(), "sidetrack-0700-"));
    try {
      startFromLockedFolder(locked);
    } finally {
      fs.rmSync(locked, { recursive: true, force: true });
    }
  });

  it("when it cannot start, fails at once with one line naming the cause and the fix", async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const error = await startEmbeddedPostgres({ port }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(EmbeddedPostgresError);
      const message = (error as Error).message;
      expect(message).not.toContain("\n");
      expect(message).toMatch(/^embedded PostgreSQL cannot start: postgres exited at start \(.*Address already in use.*\)\. Fix: .*DATABASE_URL/);
      expect((error as Error).stack).toBe(`EmbeddedPostgresError: ${message}`);
    } finally {
      taken.close();
    }
  });
});

/** Copies the harness and its binaries into `locked` (made 0700), starts it from there, and checks it. */
function startFromLockedFolder(locked: string): void {
  fs.chmodSync(locked, 0o700);
  const project = path.join(locked, "project");
  const modules = path.join(project, "node_modules");
  fs.mkdirSync(path.join(project, "scripts"), { recursive: true });
  fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ type: "module" }));
  fs.copyFileSync(path.join(repoRoot, "scripts/embedded-postgres.ts"), path.join(project, "scripts/embedded-postgres.ts"));
  // The binaries live inside the locked folder, as they do in such a checkout's node_modules.
  const binaries = fs.readdirSync(path.join(repoRoot, "node_modules/@embedded-postgres")).map((p) => `@embedded-postgres/${p}`);
  for (const name of ["embedded-postgres", ...binaries]) {
    fs.cpSync(fs.realpathSync(path.join(repoRoot, "node_modules", name)), path.join(modules, name), { recursive: true, verbatimSymlinks: true });
  }
  const pgModule = pathToFileURL(path.join(repoRoot, "node_modules/pg/esm/index.mjs")).href;
  fs.writeFileSync(
    path.join(project, "run.ts"),
    `import { startEmbeddedPostgres } from "./scripts/embedded-postgres.ts";\n` +
      `const { default: pg } = await import(${JSON.stringify(pgModule)});\n` +
      `const server = await startEmbeddedPostgres();\n` +
      `const client = new pg.Client({ connectionString: server.url });\n` +
      `await client.connect();\n` +
      `const { rows } = await client.query("select current_user as user, current_setting('data_directory') as data");\n` +
      `await client.end();\n` +
      `await server.stop();\n` +
      `console.log(JSON.stringify({ ...rows[0], removed: !(await import("node:fs")).existsSync(server.dataDir) }));\n`,
  );
  const tsx = pathToFileURL(path.join(repoRoot, "node_modules/tsx/dist/loader.mjs")).href;
  const r = spawnSync(process.execPath, ["--import", tsx, "run.ts"], { cwd: project, encoding: "utf8" });
  expect(r.stderr).toBe("");
  expect(r.status).toBe(0);
  const report = JSON.parse(r.stdout.trim()) as { user: string; data: string; removed: boolean };
  expect(report.user).toBe("postgres");
  expect(report.data.startsWith(locked)).toBe(false);
  expect(report.removed).toBe(true);
}
