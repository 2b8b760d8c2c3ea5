// Cron across real processes: three workers, each declaring the same two per-second schedules
// on two queues, insert exactly one job per (schedule, tick), with no tick left out.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runMigrations } from "../runtime/index.js";
import { createTestDatabase, type TestDatabase } from "./support/database.js";

const script = fileURLToPath(new URL("./support/cron-worker-process.ts", import.meta.url));
let db: TestDatabase;
const children: ChildProcess[] = [];

beforeAll(async () => {
  db = await createTestDatabase("cron_processes");
});
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
});

function startWorker(env: Record<string, string>) {
  const child = spawn(process.execPath, ["--import", "tsx", script], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  children.push(child);
  let stdout = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => process.stderr.write(`[cron worker ${child.pid}] ${chunk}`));
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", () => /^ready$/m.test(stdout) && resolve());
    void exited.then((code) => reject(new Error(`cron worker exited (${code}) before ready:\n${stdout}`)));
  });
  return { child, ready, exited, output: () => stdout };
}

interface TickCount {
  queue: string;
  expression: string;
  tick: Date;
  jobs: number;
}

describe("cron across processes", () => {
  it("three workers insert exactly one job per tick of two per-second schedules", async () => {
    const schema = "cron_procs";
    await runMigrations({ pool: db.pool, schema });
    const workers = Array.from({ length: 3 }, () => startWorker({ DATABASE_URL: db.url, SCHEMA: schema }));
    await Promise.all(workers.map((w) => w.ready));

    const perTick = async (): Promise<TickCount[]> =>
      (
        await db.pool.query<TickCount>(
          `select s.queue, s.expression, j.cron_tick as tick, count(*)::int as jobs
           from ${schema}.jobs j join ${schema}.cron_schedules s on s.id = j.cron_schedule_id
           group by s.queue, s.expression, j.cron_tick order by s.queue, j.cron_tick`,
        )
      ).rows;
    const ticksOf = (rows: TickCount[], queue: string) => rows.filter((r) => r.queue === queue);
    await expect
      .poll(async () => {
        const rows = await perTick();
        return Math.min(ticksOf(rows, "everySecond").length, ticksOf(rows, "everySecondBerlin").length);
      }, { timeout: 60_000, interval: 250 })
      .toBeGreaterThanOrEqual(12);

    for (const w of workers) w.child.kill("SIGTERM");
    expect(await Promise.all(workers.map((w) => w.exited))).toEqual([0, 0, 0]);

    const rows = await perTick();
    const { rows: schedules } = await db.pool.query(`select queue, expression, timezone from ${schema}.cron_schedules order by queue`);
    expect(schedules).toEqual([
      { queue: "everySecond", expression: "* * * * * *", timezone: "UTC" },
      { queue: "everySecondBerlin", expression: "* * * * * *", timezone: "Europe/Berlin" },
    ]);
    for (const queue of ["everySecond", "everySecondBerlin"]) {
      const ticks = ticksOf(rows, queue);
      expect(ticks.length).toBeGreaterThanOrEqual(12);
      // Exactly one job per tick …
      expect(ticks.filter((t) => t.jobs !== 1)).toEqual([]);
      // … and every second from the first tick to the last has its job.
      const seconds = ticks.map((t) => t.tick.getTime() / 1000);
      expect(seconds).toEqual(seconds.map((_, i) => seconds[0]! + i));
    }
    // Each job runs at its tick and carries its schedule's payload; every one of them ran.
    const { rows: jobs } = await db.pool.query<{ queue: string; run_at: Date; cron_tick: Date; payload: { kind: string }; status: string }>(
      `select queue, run_at, cron_tick, payload, status from ${schema}.jobs`,
    );
    expect(jobs.every((j) => j.run_at.getTime() === j.cron_tick.getTime())).toBe(true);
    expect(new Set(jobs.map((j) => `${j.queue}:${j.payload.kind}`))).toEqual(new Set(["everySecond:utc", "everySecondBerlin:berlin"]));
    const ran: Record<string, number> = {};
    for (const w of workers) {
      const counts = (JSON.parse(w.output().trim().split("\n").pop()!) as { ran: Record<string, number> }).ran;
      for (const [queue, n] of Object.entries(counts)) ran[queue] = (ran[queue] ?? 0) + n;
    }
    const completed = jobs.filter((j) => j.status === "completed");
    for (const queue of ["everySecond", "everySecondBerlin"]) {
      expect(ran[queue]).toBe(completed.filter((j) => j.queue === queue).length);
    }
    console.log(`[figure] cron over 3 processes: ${rows.length} ticks, ${jobs.length} jobs, ${completed.length} run before SIGTERM`);
  });
});
