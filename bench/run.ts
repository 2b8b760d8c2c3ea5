// `npm run bench [-- --quick] [-- --only sidetrack,graphile-worker]`: every contender on the same
// machine, the same PostgreSQL, in one run. Prints a markdown table with ratios and writes
// bench/results/latest.json. See bench/README.md for what each row means.
import { spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import pg from "pg";
import { exitOnEmbeddedError, startEmbeddedPostgres } from "../scripts/embedded-postgres.js";
import type { Contender } from "./contender.js";
import { redisAnswers } from "./contenders/bullmq.js";
import { contenders } from "./contenders/index.js";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const only = args.find((a) => a.startsWith("--only="))?.slice(7).split(",");
const BURN_JOBS = quick ? 20_000 : 200_000;
const LATENCY_JOBS = quick ? 200 : 2_000;
const WORKERS = 4;
const CONCURRENCY = 50;
// Extra node flags for the burn-down workers, e.g. BENCH_WORKER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof".
const WORKER_NODE_ARGS = (process.env.BENCH_WORKER_NODE_ARGS ?? "").split(" ").filter(Boolean);
const LATENCY_BUDGET_MS = quick ? 10_000 : 30_000;
const REPEATS = quick ? 1 : 3;
const REPEAT_UNDER_MS = 30_000;
/** The bundled burn-down worker (see bundleWorker), built on first use. */
let bundled: Promise<string> | undefined;

interface Result {
  contender: string;
  bulkInsertJobsPerSec?: number;
  /** The median burn-down; every run's figure is in burnDownRuns. */
  burnDownJobsPerSec?: number;
  burnDownRuns?: number[];
  peakWorkerRssMb?: number;
  /** CPU time per job during the burn-down: worker processes, and the PostgreSQL server when it runs on this machine. */
  cpuUsPerJob?: { workers: number; postgres?: number };
  latencyMs?: { p50: number; p95: number; p99: number; samples: number };
  error?: string;
}

const embedded = process.env.DATABASE_URL ? undefined : await startEmbeddedPostgres().catch(exitOnEmbeddedError);
const url = process.env.DATABASE_URL ?? embedded!.url;
const results: Result[] = [];
try {
  // `--only=sidetrack,floor` also takes the variant rows ("sidetrack (concurrency 500)", both floors).
  const names = Object.keys(contenders).filter((n) => !only || only.some((o) => n === o || n.startsWith(`${o} `)));
  const haveRedis = await redisAnswers();
  for (const name of names) {
    if (name.startsWith("bullmq") && !haveRedis) {
      console.error(`skipping ${name}: no Redis answers on 127.0.0.1:6379`);
      continue;
    }
    const contender = contenders[name]!;
    console.error(`== ${name}`);
    try {
      results.push(await measure(contender));
    } catch (error) {
      console.error(`${name} failed: ${(error as Error).stack}`);
      results.push({ contender: name, error: (error as Error).message });
    }
  }
  const generator = await measureGenerator();
  const report = renderTable(results, generator);
  console.log(report);
  mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
  writeFileSync(
    new URL("./results/latest.json", import.meta.url),
    JSON.stringify({ at: new Date().toISOString(), quick, machine: machine(), burnJobs: BURN_JOBS, latencyJobs: LATENCY_JOBS, workers: WORKERS, concurrency: CONCURRENCY, repeats: REPEATS, results, generator }, null, 2),
  );
} finally {
  await embedded?.stop();
}

async function measure(c: Contender): Promise<Result> {
  const result: Result = { contender: c.name };
  // Bulk insert and burn-down are repeated and the median run kept: on two shared cores one
  // burn-down can differ from the next by a third. A run over REPEAT_UNDER_MS is not repeated
  // (pg-boss needs minutes per run).
  const runs: { bulk: number; burn: Awaited<ReturnType<typeof burnDown>> }[] = [];
  for (let i = 0; i < REPEATS; i++) {
    await c.reset(url);
    await vacuum();
    const t = performance.now();
    await c.bulkInsert(url, BURN_JOBS);
    const bulk = Math.round(BURN_JOBS / ((performance.now() - t) / 1000));
    await vacuum();
    const began = performance.now();
    const burn = await burnDown(c);
    runs.push({ bulk, burn });
    console.error(
      `   run ${i + 1}: bulk insert ${c.burnDownOnly ? "n/a" : `${bulk} jobs/s`}, burn-down ${burn.jobsPerSec} jobs/s, peak worker RSS ${burn.peakRssMb} MB, CPU µs per job ${JSON.stringify(burn.cpuUsPerJob)}`,
    );
    if (performance.now() - began > REPEAT_UNDER_MS) break;
  }
  const median = <T,>(values: T[], key: (v: T) => number): T => [...values].sort((a, b) => key(a) - key(b))[Math.floor((values.length - 1) / 2)]!;
  const burn = median(runs, (r) => r.burn.jobsPerSec).burn;
  result.burnDownJobsPerSec = burn.jobsPerSec;
  result.burnDownRuns = runs.map((r) => r.burn.jobsPerSec);
  result.cpuUsPerJob = burn.cpuUsPerJob;
  result.peakWorkerRssMb = Math.max(...runs.map((r) => r.burn.peakRssMb));
  if (!c.burnDownOnly) result.bulkInsertJobsPerSec = median(runs, (r) => r.bulk).bulk;

  if (c.insertOne && !c.burnDownOnly) {
    await c.reset(url);
    result.latencyMs = await latency(c);
    console.error(`   latency: ${JSON.stringify(result.latencyMs)}`);
  }
  return result;
}

/**
 * The burn-down workers run as one bundled JavaScript file under plain node, like a deployed
 * worker: under tsx every worker process would carry the TypeScript loader (about 50 MB of RSS
 * and a second of start-up CPU) in the figures of every queue. Packages stay external. Built
 * once per bench run, on the first burn-down.
 */
function workerScript(): Promise<string> {
  bundled ??= bundleWorker();
  return bundled;
}

async function bundleWorker(): Promise<string> {
  const outfile = fileURLToPath(new URL("./.build/worker.mjs", import.meta.url));
  await build({
    entryPoints: [fileURLToPath(new URL("./worker.ts", import.meta.url))],
    outfile,
    bundle: true,
    platform: "node",
    format: "esm",
    packages: "external",
    logLevel: "warning",
  });
  return outfile;
}

async function burnDown(c: Contender): Promise<{ jobsPerSec: number; peakRssMb: number; cpuUsPerJob: { workers: number; postgres?: number } }> {
  const pgCpuBefore = postgresCpuMs();
  const script = await workerScript(); // bundled once per bench run
  const children = Array.from({ length: WORKERS }, () => {
    const child = spawn(process.execPath, [...WORKER_NODE_ARGS, script, c.name, url, String(c.concurrency ?? CONCURRENCY)], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
    const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
    return { child, out: () => out, exited };
  });
  // Counting what is left costs the database a scan of the table, and not the same for everyone
  // (graphile-worker deletes finished jobs, the others keep them): poll rarely while much is left
  // and often near the end, so the count neither slows anyone down nor blurs the end time.
  const began = Date.now();
  let left = await c.remaining(url);
  const deadline = began + 15 * 60_000;
  while (left > 0) {
    if (Date.now() > deadline) throw new Error(`burn-down did not finish: ${left} jobs left`);
    const done = BURN_JOBS - left;
    const rate = done / Math.max(1, Date.now() - began); // jobs per ms so far
    const expectedMs = rate > 0 ? left / rate : 1_000;
    await new Promise((r) => setTimeout(r, Math.min(1_000, Math.max(20, expectedMs / 4))));
    left = await c.remaining(url);
  }
  const end = Date.now();
  for (const ch of children) ch.child.kill("SIGTERM");
  await Promise.all(children.map((ch) => ch.exited));
  const firsts = children.map((ch) => /first (\d+)/.exec(ch.out())?.[1]).filter(Boolean).map(Number);
  const rss = children.map((ch) => Number(/rss (\d+)/.exec(ch.out())?.[1] ?? 0));
  const workerCpuMs = children.reduce((sum, ch) => sum + Number(/cpu (\d+)/.exec(ch.out())?.[1] ?? 0), 0);
  const pgCpuAfter = postgresCpuMs();
  const start = Math.min(...firsts);
  const perJob = (ms: number) => Math.round((ms * 1000) / BURN_JOBS);
  return {
    jobsPerSec: Math.round(BURN_JOBS / ((end - start) / 1000)),
    peakRssMb: Math.round(Math.max(...rss) / 1024 / 1024),
    cpuUsPerJob: { workers: perJob(workerCpuMs), postgres: pgCpuBefore !== undefined && pgCpuAfter !== undefined ? perJob(pgCpuAfter - pgCpuBefore) : undefined },
  };
}

/**
 * CPU time used so far by the PostgreSQL server's processes, when the server runs on this
 * machine (Linux /proc). Backends that exited are included through the postmaster's
 * children's times. Undefined elsewhere (remote server, other systems).
 */
function postgresCpuMs(): number | undefined {
  try {
    const ticksPerMs = 100 / 1000; // USER_HZ is 100 on Linux
    let ticks = 0;
    let found = false;
    for (const pid of readdirSync("/proc")) {
      if (!/^\d+$/.test(pid)) continue;
      let stat: string;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      } catch {
        continue; // exited meanwhile
      }
      const close = stat.lastIndexOf(")");
      if (stat.slice(stat.indexOf("(") + 1, close) !== "postgres") continue;
      const f = stat.slice(close + 2).split(" "); // f[0] is field 3 (state)
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]); // utime stime cutime cstime
      found = true;
    }
    return found ? ticks / ticksPerMs : undefined;
  } catch {
    return undefined;
  }
}

async function latency(c: Contender): Promise<{ p50: number; p95: number; p99: number; samples: number }> {
  const waiting = new Map<number, () => void>();
  const stop = await c.startWorker(url, 10, (i) => waiting.get(i)?.());
  await c.openInserter?.(url);
  const samples: number[] = [];
  // A queue that only polls (pg-boss: 0.5 s at least) would need 1,000 s for 2,000 samples:
  // each contender gets at most LATENCY_BUDGET_MS, and the table says how many samples it took.
  const deadline = performance.now() + LATENCY_BUDGET_MS;
  // Warm-up: connections, prepared plans.
  for (let i = -5; i < LATENCY_JOBS && performance.now() < deadline; i++) {
    const started = new Promise<void>((resolve) => waiting.set(i, resolve));
    const t0 = performance.now();
    await c.insertOne!(i);
    await started;
    if (i >= 0) samples.push(performance.now() - t0);
    waiting.delete(i);
  }
  await c.closeInserter?.();
  await stop();
  samples.sort((a, b) => a - b);
  const pct = (p: number) => Math.round(samples[Math.min(samples.length - 1, Math.floor((p / 100) * samples.length))]! * 100) / 100;
  return { p50: pct(50), p95: pct(95), p99: pct(99), samples: samples.length };
}

/**
 * Vacuums, then checkpoints: a checkpoint that happened to fall inside a burn-down made every
 * page's first change after it write a full page image to the WAL, and tripled the server's CPU
 * per job in that run. Starting each run right after one gives every queue the same conditions.
 * (CHECKPOINT needs a superuser or pg_checkpoint; without it the runs are just noisier.)
 */
async function vacuum(): Promise<void> {
  const client = new pg.Client(url);
  await client.connect();
  await client.query("vacuum analyze");
  await client.query("checkpoint").catch((error: Error) => console.error(`   (no checkpoint before the run: ${error.message})`));
  await client.end();
}

interface GeneratorFigures {
  coldMs?: number;
  watchRegenerateMs?: number;
  note?: string;
}

async function measureGenerator(): Promise<GeneratorFigures> {
  const script = fileURLToPath(new URL("./generator.ts", import.meta.url));
  const { existsSync } = await import("node:fs");
  if (!existsSync(script)) return { note: "bench/generator.ts not present" };
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", script, "--json"], { stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout!.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.on("exit", () => {
      try {
        resolve(JSON.parse(out.trim().split("\n").pop()!) as GeneratorFigures);
      } catch {
        resolve({ note: `generator bench printed no JSON: ${out.slice(0, 200)}` });
      }
    });
  });
}

function renderTable(rows: Result[], generator: GeneratorFigures): string {
  const by = (name: string) => rows.find((r) => r.contender === name);
  const gw = by("graphile-worker");
  // Ratios are taken to the physical limit: the floor with graphile-worker's lock-ahead.
  const fl = by("floor (bare SQL, batch 500)");
  const ratio = (a?: number, b?: number) => (a && b ? `${(a / b).toFixed(2)}x` : "—");
  const lines = [
    `Burn-down: ${BURN_JOBS.toLocaleString("en")} no-op jobs, ${WORKERS} worker processes x concurrency ${CONCURRENCY} (unless the row says otherwise); burn-down and bulk insert are the median of ${REPEATS} runs (one when a run takes over ${REPEAT_UNDER_MS / 1000} s). Latency: ${LATENCY_JOBS} jobs inserted one by one, insert call to handler start. Machine: ${machine()}.`,
    "",
    "| queue | burn-down jobs/s (median, range) | vs graphile-worker | vs floor | CPU µs per job: workers / PostgreSQL | bulk insert jobs/s | vs graphile-worker | latency p50 / p95 / p99 ms | peak worker RSS MB |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
  ];
  for (const r of rows) {
    if (r.error) {
      lines.push(`| ${r.contender} | failed: ${r.error.replaceAll("|", "/")} | | | | | | | |`);
      continue;
    }
    const l = r.latencyMs && r.latencyMs.samples > 0
      ? `${r.latencyMs.p50} / ${r.latencyMs.p95} / ${r.latencyMs.p99}${r.latencyMs.samples < LATENCY_JOBS ? ` (${r.latencyMs.samples} samples in ${LATENCY_BUDGET_MS / 1000} s)` : ""}`
      : "—";
    const cpu = r.cpuUsPerJob ? `${r.cpuUsPerJob.workers} / ${r.cpuUsPerJob.postgres ?? "—"}` : "—";
    lines.push(
      `| ${r.contender} | ${burnCell(r)} | ${ratio(r.burnDownJobsPerSec, gw?.burnDownJobsPerSec)} | ${ratio(r.burnDownJobsPerSec, fl?.burnDownJobsPerSec)} | ${cpu} | ${r.bulkInsertJobsPerSec ?? "—"} | ${ratio(r.bulkInsertJobsPerSec, gw?.bulkInsertJobsPerSec)} | ${l} | ${r.peakWorkerRssMb} |`,
    );
  }
  lines.push("", generator.note ? `Generator: ${generator.note}` : `Generator (50 queues): cold \`sidetrack generate\` ${generator.coldMs} ms; \`--watch\` regeneration ${generator.watchRegenerateMs} ms.`);
  return lines.join("\n");
}

function burnCell(r: Result): string {
  const runs = r.burnDownRuns ?? [];
  return runs.length > 1 ? `${r.burnDownJobsPerSec} (${Math.min(...runs)}–${Math.max(...runs)})` : `${r.burnDownJobsPerSec}`;
}

function machine(): string {
  return `${cpus().length} cores (${cpus()[0]?.model.trim()}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}
