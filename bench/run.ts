// `npm run bench [-- --quick] [-- --only=sidetrack,graphile-worker] [-- --shapes="4x50 small"]`:
// every contender, in every shape of load, on the same machine and the same PostgreSQL, in one
// run. Prints two markdown tables with ratios and writes bench/results/latest.json. See
// bench/README.md for what each figure means.
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { exitOnEmbeddedError, startEmbeddedPostgres } from "../scripts/embedded-postgres.js";
import type { Contender } from "./contender.js";
import { redisAnswers } from "./contenders/bullmq.js";
import { contenders } from "./contenders/index.js";
import { type BurnDown, burnDown, vacuum } from "./harness.js";
import { HEADLINE, jobPayload, SHAPES, type Shape } from "./workload.js";

const args = process.argv.slice(2);
const quick = args.includes("--quick");
const only = args.find((a) => a.startsWith("--only="))?.slice(7).split(",");
const onlyShapes = args.find((a) => a.startsWith("--shapes="))?.slice(9).split(",");
/** Jobs per burn-down (every shape), and in the bulk-insert measurement. */
const BURN_JOBS = quick ? 5_000 : 50_000;
const BULK_JOBS = quick ? 20_000 : 200_000;
const FIRST_BURST_JOBS = quick ? 10_000 : 100_000;
const LATENCY_JOBS = quick ? 200 : 2_000;
// Extra node flags for the burn-down workers, e.g. BENCH_WORKER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof".
const WORKER_NODE_ARGS = (process.env.BENCH_WORKER_NODE_ARGS ?? "").split(" ").filter(Boolean);
const LATENCY_BUDGET_MS = quick ? 10_000 : 30_000;
const REPEATS = quick ? 1 : 3;
const REPEAT_UNDER_MS = 30_000;
/** A burn-down still running after this long is measured from what it did by then (marked partial). */
const BURN_BUDGET_MS = quick ? 30_000 : 120_000;

interface Cell {
  contender: string;
  shape: string;
  burn?: BurnDown;
  /** Every run's jobs/s; `burn` is the median run. */
  runs?: number[];
  error?: string;
}

interface Latency {
  p50: number;
  p95: number;
  p99: number;
  samples: number;
}

interface Extras {
  contender: string;
  bulkInsertJobsPerSec?: number;
  latencyIdle?: Latency;
  latencyLoaded?: Latency;
  startToFirstJobMs?: number;
  firstBurstJobsPerSec?: number;
  error?: string;
}

const embedded = process.env.DATABASE_URL ? undefined : await startEmbeddedPostgres().catch(exitOnEmbeddedError);
const url = process.env.DATABASE_URL ?? embedded!.url;
const cells: Cell[] = [];
const extras: Extras[] = [];
const shapes = SHAPES.filter((s) => !onlyShapes || onlyShapes.includes(s.name));
try {
  const names = Object.keys(contenders).filter((n) => !only || only.some((o) => n === o || n.startsWith(`${o} `)));
  const haveRedis = await redisAnswers();
  const runnable = names.filter((name) => {
    if (name === "bullmq (Redis)" && !haveRedis) {
      console.error(`skipping ${name}: no Redis answers on 127.0.0.1:6379`);
      return false;
    }
    return true;
  });
  for (const shape of shapes) {
    for (const name of runnable) {
      console.error(`== ${shape.name}: ${name}`);
      try {
        cells.push(await measureShape(contenders[name]!, shape));
      } catch (error) {
        console.error(`${name} failed: ${(error as Error).stack}`);
        cells.push({ contender: name, shape: shape.name, error: (error as Error).message });
      }
    }
  }
  for (const name of runnable) {
    const c = contenders[name]!;
    if (c.burnDownOnly) continue;
    console.error(`== ${name}: bulk insert, latency, start-up, first burst`);
    try {
      extras.push(await measureExtras(c));
    } catch (error) {
      console.error(`${name} failed: ${(error as Error).stack}`);
      extras.push({ contender: name, error: (error as Error).message });
    }
  }
  const generator = await measureGenerator();
  const report = renderTables(cells, extras, generator);
  console.log(report);
  mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
  writeFileSync(
    new URL("./results/latest.json", import.meta.url),
    JSON.stringify({ at: new Date().toISOString(), quick, machine: machine(), burnJobs: BURN_JOBS, bulkJobs: BULK_JOBS, latencyJobs: LATENCY_JOBS, repeats: REPEATS, shapes, cells, extras, generator }, null, 2),
  );
} finally {
  await embedded?.stop();
}

async function measureShape(c: Contender, shape: Shape): Promise<Cell> {
  // Repeated and the median kept: on two shared cores one burn-down can differ from the next
  // by a third. A run over REPEAT_UNDER_MS is not repeated (the slowest queues need minutes).
  const runs: BurnDown[] = [];
  for (let i = 0; i < REPEATS; i++) {
    await c.reset(url);
    await c.bulkInsert(url, BURN_JOBS, (n) => jobPayload(n, shape.payloadBytes));
    await vacuum(url);
    const began = performance.now();
    const burn = await burnDown(c, shape, { url, jobs: BURN_JOBS, budgetMs: BURN_BUDGET_MS, nodeArgs: WORKER_NODE_ARGS });
    runs.push(burn);
    console.error(
      `   run ${i + 1}: ${burn.jobsPerSec} jobs/s${burn.partial ? " (partial)" : ""}, peak worker RSS ${burn.peakRssMb} MB, CPU µs per job ${JSON.stringify(burn.cpuUsPerJob)}, WAL bytes per job ${burn.walBytesPerJob ?? "—"}`,
    );
    if (performance.now() - began > REPEAT_UNDER_MS) break;
  }
  const burn = [...runs].sort((a, b) => a.jobsPerSec - b.jobsPerSec)[Math.floor((runs.length - 1) / 2)]!;
  return { contender: c.name, shape: shape.name, burn, runs: runs.map((r) => r.jobsPerSec) };
}

async function measureExtras(c: Contender): Promise<Extras> {
  const result: Extras = { contender: c.name };
  const bulk: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    await c.reset(url);
    await vacuum(url);
    const t = performance.now();
    await c.bulkInsert(url, BULK_JOBS, (n) => jobPayload(n, 0));
    const ms = performance.now() - t;
    bulk.push(Math.round(BULK_JOBS / (ms / 1000)));
    if (ms > REPEAT_UNDER_MS) break;
  }
  result.bulkInsertJobsPerSec = bulk.sort((a, b) => a - b)[Math.floor((bulk.length - 1) / 2)];
  console.error(`   bulk insert ${bulk.join(", ")} jobs/s`);
  if (c.insertOne) {
    await c.reset(url);
    result.latencyIdle = await latency(c, false);
    await c.reset(url);
    result.latencyLoaded = await latency(c, true);
    console.error(`   latency idle ${JSON.stringify(result.latencyIdle)}, under load ${JSON.stringify(result.latencyLoaded)}`);
  }
  await c.reset(url);
  result.startToFirstJobMs = await startToFirstJob(c);
  console.error(`   start() to first job ${result.startToFirstJobMs} ms`);
  if (c.insertOne) {
    await c.reset(url);
    result.firstBurstJobsPerSec = await firstBurst(c);
    console.error(`   first burst on a new table ${result.firstBurstJobsPerSec} jobs/s`);
  }
  return result;
}

/**
 * A new deployment's first burst: a worker (one process, concurrency 50) starts on the table just
 * created, runs 20 jobs inserted one by one (its statements are planned meanwhile, on a table of
 * a few rows), then FIRST_BURST_JOBS arrive in one bulk insert; jobs/s of those run after the
 * insert returned, from then to the last handler call. Every other measurement starts on a table already filled and analyzed.
 */
async function firstBurst(c: Contender): Promise<number> {
  let done = 0;
  let ran: (() => void) | undefined;
  const stop = await c.startWorker(url, 50, () => {
    done++;
    ran?.();
  }, 0);
  await c.openInserter?.(url);
  for (let i = 0; i < 20; i++) {
    const started = new Promise<void>((resolve) => (ran = resolve));
    await c.insertOne!(i);
    await started;
  }
  ran = undefined;
  await c.closeInserter?.();
  const warmedUp = done;
  await c.bulkInsert(url, FIRST_BURST_JOBS, (n) => jobPayload(n, 0));
  // Queues that run jobs while the insert is still adding them (BullMQ's chunks) have some done by now.
  const t0 = performance.now();
  const before = done;
  const deadline = t0 + BURN_BUDGET_MS;
  while (done - warmedUp < FIRST_BURST_JOBS && performance.now() < deadline) await sleep(5);
  const jobsPerSec = Math.round((done - before) / ((performance.now() - t0) / 1000));
  await stop();
  return jobsPerSec;
}

/**
 * Insert call to handler start, one job at a time, for one in-process worker (concurrency 10).
 * `loaded`: meanwhile two more callers insert jobs back to back into the same queue, which the
 * same worker runs, so every sample waits behind real work.
 */
async function latency(c: Contender, loaded: boolean): Promise<Latency> {
  const waiting = new Map<number, () => void>();
  const stop = await c.startWorker(url, 10, (i) => waiting.get(i)?.(), 0);
  await c.openInserter?.(url);
  let loading = loaded;
  const feeders = loaded
    ? [0, 1].map(async () => {
        while (loading) await c.insertOne!(-1);
      })
    : [];
  const samples: number[] = [];
  // A queue that only polls (pg-boss: 0.5 s at least) would need 1,000 s for 2,000 samples:
  // each contender gets at most LATENCY_BUDGET_MS, and the table says how many samples it took.
  const deadline = performance.now() + LATENCY_BUDGET_MS;
  // Five warm-up jobs first (connections, prepared plans): indexes -6 to -2, never a feeder's -1.
  for (let i = -6; i < LATENCY_JOBS && performance.now() < deadline; i = i === -2 ? 0 : i + 1) {
    const started = new Promise<void>((resolve) => waiting.set(i, resolve));
    const t0 = performance.now();
    await c.insertOne!(i);
    await started;
    if (i >= 0) samples.push(performance.now() - t0);
    waiting.delete(i);
  }
  loading = false;
  await Promise.all(feeders);
  await c.closeInserter?.();
  await stop();
  samples.sort((a, b) => a - b);
  const pct = (p: number) => Math.round(samples[Math.min(samples.length - 1, Math.floor((p / 100) * samples.length))]! * 100) / 100;
  return { p50: pct(50), p95: pct(95), p99: pct(99), samples: samples.length };
}

/** From the call that starts a worker to its first handler running, with one job waiting. */
async function startToFirstJob(c: Contender): Promise<number> {
  await c.bulkInsert(url, 1, (n) => jobPayload(n, 0));
  let ran!: () => void;
  const first = new Promise<void>((resolve) => (ran = resolve));
  const t0 = performance.now();
  const stop = await c.startWorker(url, 10, () => ran(), 0);
  await first;
  const ms = Math.round(performance.now() - t0);
  await stop();
  return ms;
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

function renderTables(all: Cell[], side: Extras[], generator: GeneratorFigures): string {
  const cell = (contender: string, shape: string) => all.find((c) => c.contender === contender && c.shape === shape);
  const ratio = (a?: number, b?: number) => (a && b ? `${(a / b).toFixed(2)}x` : "—");
  const contendersShown = [...new Set([...all.map((c) => c.contender), ...side.map((e) => e.contender)])];
  const lines = [
    `Burn-down jobs/s by shape (processes x concurrency, payload, handler): ${BURN_JOBS.toLocaleString("en")} jobs inserted first, then the workers start; median of ${REPEATS} run(s) (one when a run takes over ${REPEAT_UNDER_MS / 1000} s), ratio to graphile-worker in brackets; "floor" claims as many as the shape's concurrency, "floor (claims of 500)" as graphile-worker's local queue. Machine: ${machine()}.`,
    "",
    `| queue | ${shapes.map((s) => s.name).join(" | ")} |`,
    `| --- | ${shapes.map(() => "---:").join(" | ")} |`,
  ];
  for (const name of contendersShown) {
    const row = shapes.map((s) => {
      const c = cell(name, s.name);
      if (!c) return "—";
      if (c.error) return `failed: ${c.error.replaceAll("|", "/").slice(0, 60)}`;
      const gw = cell("graphile-worker", s.name)?.burn?.jobsPerSec;
      const range = c.runs && c.runs.length > 1 ? ` (${Math.min(...c.runs)}–${Math.max(...c.runs)})` : "";
      return `${c.burn!.jobsPerSec}${c.burn!.partial ? "*" : ""}${range} [${ratio(c.burn!.jobsPerSec, gw)}]`;
    });
    lines.push(`| ${name} | ${row.join(" | ")} |`);
  }
  const sidetrackVsFloor = shapes.map((s) => `${s.name} ${ratio(cell("sidetrack", s.name)?.burn?.jobsPerSec, cell("floor", s.name)?.burn?.jobsPerSec)}`);
  lines.push("", `Sidetrack vs the floor at equal claim size: ${sidetrackVsFloor.join(", ")}. A * marks a burn-down measured from the jobs done in ${BURN_BUDGET_MS / 1000} s.`);
  lines.push(
    "",
    `Side figures. CPU, WAL and memory from the ${HEADLINE} burn-down; bulk insert of ${BULK_JOBS.toLocaleString("en")} jobs in as few calls as each library allows; latency: ${LATENCY_JOBS} jobs inserted one by one, insert call to handler start, one worker of concurrency 10, idle and with two more callers inserting back to back; start-up: from the call that starts a worker to its first handler, one job waiting; first burst: a worker of concurrency 50 started on a new table runs 20 jobs inserted one by one, then ${FIRST_BURST_JOBS.toLocaleString("en")} arrive in one bulk insert, jobs/s from then to the last.`,
    "",
    "| queue | CPU µs per job: workers / PostgreSQL | WAL bytes per job | peak worker RSS MB | bulk insert jobs/s | vs graphile-worker | latency idle p50 / p95 / p99 ms | latency under load p50 / p95 / p99 ms | start to first job ms | first burst on a new table jobs/s | vs graphile-worker |",
    "| --- | ---: | ---: | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: |",
  );
  const gwBulk = side.find((e) => e.contender === "graphile-worker")?.bulkInsertJobsPerSec;
  const gwBurst = side.find((e) => e.contender === "graphile-worker")?.firstBurstJobsPerSec;
  const lat = (l?: Latency) => (l && l.samples > 0 ? `${l.p50} / ${l.p95} / ${l.p99}${l.samples < LATENCY_JOBS ? ` (${l.samples} samples)` : ""}` : "—");
  for (const name of contendersShown) {
    const b = cell(name, HEADLINE)?.burn;
    const e = side.find((x) => x.contender === name);
    const cpu = b ? `${b.cpuUsPerJob.workers} / ${b.cpuUsPerJob.postgres ?? "—"}` : "—";
    if (e?.error) {
      lines.push(`| ${name} | ${cpu} | ${b?.walBytesPerJob ?? "—"} | ${b?.peakRssMb ?? "—"} | failed: ${e.error.replaceAll("|", "/").slice(0, 60)} | | | | | | |`);
      continue;
    }
    lines.push(
      `| ${name} | ${cpu} | ${b?.walBytesPerJob ?? "—"} | ${b?.peakRssMb ?? "—"} | ${e?.bulkInsertJobsPerSec ?? "—"} | ${ratio(e?.bulkInsertJobsPerSec, gwBulk)} | ${lat(e?.latencyIdle)} | ${lat(e?.latencyLoaded)} | ${e?.startToFirstJobMs ?? "—"} | ${e?.firstBurstJobsPerSec ?? "—"} | ${ratio(e?.firstBurstJobsPerSec, gwBurst)} |`,
    );
  }
  lines.push("", generator.note ? `Generator: ${generator.note}` : `Generator (50 queues): cold \`sidetrack generate\` ${generator.coldMs} ms; \`--watch\` regeneration ${generator.watchRegenerateMs} ms.`);
  return lines.join("\n");
}

function machine(): string {
  return `${cpus().length} cores (${cpus()[0]?.model.trim()}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}
