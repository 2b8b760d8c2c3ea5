// `npx tsx bench/scaling.ts [--quick]` (after `npm run build`): Sidetrack past one worker process.
// The same burn-down as bench/run.ts (bench/harness.ts) with 1, 2, 4 and 8 worker processes of
// concurrency 25, each process standing for a host, and what the database sees meanwhile: claims
// waiting on locks (pg_stat_activity sampled every 50 ms), deadlocks (pg_stat_database delta) and
// connections. Median of three runs of each (one with --quick). Prints a markdown table. Uses
// DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres).
import { cpus, totalmem } from "node:os";
import pg from "pg";
import { sidetrack } from "./contenders/sidetrack.js";
import { burnDown, vacuum } from "./harness.js";
import { jobPayload, type Shape } from "./workload.js";

const quick = process.argv.includes("--quick");
const url = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
const JOBS = quick ? 10_000 : 40_000;
const CONCURRENCY = 25;
const PROCESSES = [1, 2, 4, 8];
const SAMPLE_MS = 50;
const BUDGET_MS = quick ? 60_000 : 120_000;
/** Runs of each process count; the median run (by jobs/s) is shown, the range beside it. */
const REPEATS = quick ? 1 : 3;

interface Sample {
  at: number;
  lockWaiters: number;
  connections: number;
  /** The waiters' wait_event (relation, tuple, transactionid, ...), comma-separated. */
  lockEvents: string;
}

interface Row {
  processes: number;
  jobsPerSec: number;
  partial: boolean;
  maxLockWaiters: number;
  samplesWithLockWait: number;
  samples: number;
  deadlocks: number;
  peakConnections: number;
  /** Every run's jobs/s. */
  runs: number[];
}

/** Samples pg_stat_activity for the bench database (its own backend left out) until stopped. */
async function sampleActivity(): Promise<() => Promise<Sample[]>> {
  const client = new pg.Client(url);
  await client.connect();
  const samples: Sample[] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      const next = Date.now() + SAMPLE_MS;
      const { rows } = await client.query<{ waiting: number; conns: number; events: string | null }>(
        `select count(*) filter (where wait_event_type = 'Lock')::int as waiting, count(*)::int as conns,
                string_agg(wait_event, ',') filter (where wait_event_type = 'Lock') as events
           from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()`,
      );
      samples.push({ at: Date.now(), lockWaiters: rows[0]!.waiting, connections: rows[0]!.conns, lockEvents: rows[0]!.events ?? "" });
      await new Promise((r) => setTimeout(r, Math.max(0, next - Date.now())));
    }
  })();
  return async () => {
    running = false;
    await loop;
    await client.end();
    return samples;
  };
}

async function deadlocks(): Promise<number> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    // Backends flush their statistics within a second or so of their last transaction.
    await client.query("select pg_stat_clear_snapshot()");
    return Number((await client.query<{ n: string }>("select deadlocks::text as n from pg_stat_database where datname = current_database()")).rows[0]!.n);
  } finally {
    await client.end();
  }
}

const rows: Row[] = [];
for (const processes of PROCESSES) {
  const runs: Row[] = [];
  for (let i = 0; i < REPEATS; i++) runs.push(await measure(processes));
  const median = [...runs].sort((a, b) => a.jobsPerSec - b.jobsPerSec)[Math.floor((runs.length - 1) / 2)]!;
  rows.push({ ...median, runs: runs.map((r) => r.jobsPerSec) });
}

async function measure(processes: number): Promise<Row> {
  const shape: Shape = { name: `${processes}x${CONCURRENCY} small`, processes, concurrency: CONCURRENCY, payloadBytes: 0, handlerMs: 0 };
  console.error(`== ${shape.name}`);
  await sidetrack.reset(url);
  await sidetrack.bulkInsert(url, JOBS, (n) => jobPayload(n, 0));
  await vacuum(url);
  const deadlocksBefore = await deadlocks();
  const stopSampling = await sampleActivity();
  let window: [number, number] = [0, Infinity];
  const burn = await burnDown(sidetrack, shape, { url, jobs: JOBS, budgetMs: BUDGET_MS, onWindow: (s, e) => (window = [s, e]) });
  const all = await stopSampling();
  // No worker reporting a first job means the jobs went elsewhere (another user of the database?).
  if (!Number.isFinite(window[0])) throw new Error(`${shape.name}: no worker ran a job; is something else using ${url}?`);
  await new Promise((r) => setTimeout(r, 1_500)); // let the exited backends' statistics land
  const deadlocksAfter = await deadlocks();
  // Lock waits within the measured window (first job to none left); connections over the whole run.
  const measured = all.filter((s) => s.at >= window[0] && s.at <= window[1]);
  const row: Row = {
    processes,
    jobsPerSec: burn.jobsPerSec,
    partial: burn.partial,
    maxLockWaiters: Math.max(0, ...measured.map((s) => s.lockWaiters)),
    samplesWithLockWait: measured.filter((s) => s.lockWaiters > 0).length,
    samples: measured.length,
    deadlocks: deadlocksAfter - deadlocksBefore,
    peakConnections: Math.max(0, ...all.map((s) => s.connections)),
    runs: [burn.jobsPerSec],
  };
  const events = [...new Set(measured.flatMap((s) => (s.lockEvents ? s.lockEvents.split(",") : [])))];
  console.error(`   ${JSON.stringify(row)}, CPU µs per job ${JSON.stringify(burn.cpuUsPerJob)}, lock wait events ${events.join(", ") || "none"}`);
  return row;
}

const base = rows[0]!.jobsPerSec;
const lines = [
  `Burn-down of ${JOBS.toLocaleString("en")} no-op jobs by 1-8 Sidetrack worker processes of concurrency ${CONCURRENCY}, median of ${REPEATS} run(s) with the range in brackets (lock and connection figures from the median run); lock waits from pg_stat_activity sampled every ${SAMPLE_MS} ms between the first job and none left; peak connections to the database over the run (the bench's own counting connection included, its sampler not). Machine: ${cpus().length} cores (${cpus()[0]?.model.trim()}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}.`,
  "",
  "| processes | jobs/s | vs 1 process | max lock waiters | samples with a lock wait | deadlocks | peak connections |",
  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ...rows.map(
    (r) =>
      `| ${r.processes} | ${r.jobsPerSec}${r.partial ? "*" : ""}${r.runs.length > 1 ? ` (${Math.min(...r.runs)}–${Math.max(...r.runs)})` : ""} | ${(r.jobsPerSec / base).toFixed(2)}x | ${r.maxLockWaiters} | ${r.samples ? ((100 * r.samplesWithLockWait) / r.samples).toFixed(1) : "—"}% (${r.samplesWithLockWait}/${r.samples}) | ${r.deadlocks} | ${r.peakConnections} |`,
  ),
];
if (rows.some((r) => r.partial)) lines.push("", `* measured from the jobs done in ${BUDGET_MS / 1000} s.`);
console.log(lines.join("\n"));
