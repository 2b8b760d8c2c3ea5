// A rolling deploy: this release's migrations are applied while a worker of the previous release
// (installed from a tarball packed from that commit) runs 5,000 jobs. None may fail, and no
// statement may wait on a lock for long (sampled from pg_stat_activity).
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runMigrations } from "../runtime/index.js";
import { MIGRATIONS } from "../runtime/db/migrations/index.js";
import { createTestDatabase, type TestDatabase } from "./support/database.js";

/** The previous landed release: update when a release lands. */
const PREVIOUS_RELEASE = "a82574d";
/** Migrations the previous release ships (it applies these itself). */
const PREVIOUS_MIGRATIONS = 2;

const repo = fileURLToPath(new URL("..", import.meta.url));
let db: TestDatabase;
let dir: string;

beforeAll(async () => {
  db = await createTestDatabase("rolling");
  dir = mkdtempSync(join(tmpdir(), "sidetrack-previous-"));
  const src = join(dir, "src");
  mkdirSync(src);
  execFileSync("sh", ["-c", `git -C "${repo}" archive ${PREVIOUS_RELEASE} | tar -x -C "${src}"`]);
  // Its dependencies are this checkout's (the lockfile changed little); packing builds it.
  symlinkSync(join(repo, "node_modules"), join(src, "node_modules"));
  execFileSync("npm", ["pack", "--silent", "--pack-destination", dir], { cwd: src, stdio: ["ignore", "ignore", "inherit"] });
  const tarball = readdirSync(dir).find((f) => f.endsWith(".tgz"))!;
  const app = join(dir, "app");
  const installed = join(app, "node_modules", "sidetrack");
  mkdirSync(installed, { recursive: true });
  execFileSync("tar", ["-xzf", join(dir, tarball), "-C", installed, "--strip-components=1"]);
  // The installed package's dependencies: this checkout's, one link each.
  for (const dep of readdirSync(join(repo, "node_modules"))) {
    if (dep !== "sidetrack" && dep !== ".bin") symlinkSync(join(repo, "node_modules", dep), join(app, "node_modules", dep));
  }
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "previous-release-app", type: "module", private: true }));
  writeFileSync(
    join(app, "worker.mjs"),
    `import { Sidetrack } from "sidetrack";
const sidetrack = new Sidetrack({
  databaseUrl: process.env.DATABASE_URL,
  concurrency: 20,
  handleSignals: false,
  queues: { work: { handler: async () => { await new Promise((r) => setTimeout(r, 1)); } } },
});
process.on("SIGTERM", () => void sidetrack.stop().then(() => process.exit(0)));
await sidetrack.start();
console.log("ready");
`,
  );
}, 300_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("rolling deploy", () => {
  it("applies this release's migrations under a previous-release worker running 5,000 jobs: none fails, no long lock wait", async () => {
    const child = spawn(process.execPath, [join(dir, "app", "worker.mjs")], {
      env: { ...process.env, DATABASE_URL: db.url },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout!.setEncoding("utf8").on("data", (d: string) => d.includes("ready") && resolve());
        void exited.then((code) => reject(new Error(`previous-release worker exited (${code})`)));
      });
      const { rows: applied } = await db.pool.query("select version from sidetrack.migrations order by version");
      expect(applied.map((r) => r.version)).toEqual(Array.from({ length: PREVIOUS_MIGRATIONS }, (_, i) => i + 1));
      await db.pool.query(`insert into sidetrack.jobs (queue, payload) select 'work', jsonb_build_object('n', g) from generate_series(1, 5000) g`);
      const completed = () => db.pool.query<{ n: number }>(`select count(*)::int as n from sidetrack.jobs where status = 'completed'`).then((r) => r.rows[0]!.n);
      await expect.poll(completed, { timeout: 60_000, interval: 20 }).toBeGreaterThan(500);

      // Sample lock waits while the migrations run.
      let sampling = true;
      let longestWaitMs = 0;
      const sampler = (async () => {
        while (sampling) {
          const { rows } = await db.pool.query<{ ms: number | null }>(
            `select max(extract(epoch from clock_timestamp() - query_start) * 1000)::float8 as ms
             from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`,
          );
          longestWaitMs = Math.max(longestWaitMs, rows[0]!.ms ?? 0);
          await new Promise((r) => setTimeout(r, 10));
        }
      })();
      const result = await runMigrations({ connectionString: db.url });
      sampling = false;
      await sampler;
      expect(result.applied).toEqual(MIGRATIONS.slice(PREVIOUS_MIGRATIONS).map((m) => m.version));
      const remainingAt = 5000 - (await completed());

      await expect.poll(completed, { timeout: 120_000, interval: 50 }).toBe(5000);
      const { rows } = await db.pool.query(`select status, jsonb_array_length(errors) as errors, count(*)::int as n from sidetrack.jobs group by 1, 2`);
      expect(rows).toEqual([{ status: "completed", errors: 0, n: 5000 }]);
      console.log(`[figure] rolling deploy: migrations ${result.applied.join(", ")} applied with ${remainingAt} of 5,000 jobs still to run; longest lock wait seen ${Math.round(longestWaitMs)} ms`);
      expect(longestWaitMs).toBeLessThan(1_000);
    } finally {
      child.kill("SIGTERM");
      await exited;
    }
  });
});
