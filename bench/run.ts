// `npm run bench [-- --quick] [-- --only sidetrack,graphile-worker]`: every contender on the same
// machine, the same PostgreSQL, in one run. Prints a markdown table with ratios and writes
// bench/results/latest.json. See bench/README.md for what each row means.
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { startEmbeddedPostgres } from "../scripts/embedded-postgres.js";
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
const LATENCY_BUDGET_MS = quick ? 10_000 : 30_000;

interface Result {
  contender: string;
  bulkInsertJobsPerSec?: number;
  burnDownJobsPerSec?: number;
  peakWorkerRssMb?: number;
  latencyMs?: { p50: number; p95: number; p99: number; samples: number };
  error?: string;
}

const embedded = process.env.DATABASE_URL ? undefined : await startEmbeddedPostgres();
const url = process.env.DATABASE_URL ?? embedded!.url;
const results: Result[] = [];
try {
  const names = Object.keys(contenders).filter((n) => !only || only.includes(n));
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
    JSON.stringify({ at: new Date().toISOString(), quick, machine: machine(), burnJobs: BURN_JOBS, latencyJobs: LATENCY_JOBS, workers: WORKERS, concurrency: CONCURRENCY, results, generator }, null, 2),
  );
} finally {
  await embedded?.stop();
}

async function measure(c: Contender): Promise<Result> {
  const result: Result = { contender: c.name };
  await c.reset(url);
  await vacuum();
  let t = performance.now();
  await c.bulkInsert(url, BURN_JOBS);
  if (c.name !== "floor (bare SQL)") result.bulkInsertJobsPerSec = Math.round(BURN_JOBS / ((performance.now() - t) / 1000));
  console.error(`   bulk insert: ${result.bulkInsertJobsPerSec ?? "n/a"} jobs/s`);
  await vacuum();

  const burn = await burnDown(c);
  result.burnDownJobsPerSec = burn.jobsPerSec;
  result.peakWorkerRssMb = burn.peakRssMb;
  console.error(`   burn-down: ${burn.jobsPerSec} jobs/s, peak worker RSS ${burn.peakRssMb} MB`);

  if (c.insertOne) {
    await c.reset(url);
    result.latencyMs = await latency(c);
    console.error(`   latency: ${JSON.stringify(result.latencyMs)}`);
  }
  void t;
  t = 0;
  return result;
}

async function burnDown(c: Contender): Promise<{ jobsPerSec: number; peakRssMb: number }> {
  const script = fileURLToPath(new URL("./worker.ts", import.meta.url));
  const children = Array.from({ length: WORKERS }, () => {
    const child = spawn(process.execPath, ["--import", "tsx", script, c.name, url, String(CONCURRENCY)], { stdio: ["ignore", "pipe", "inherit"] });
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
  const start = Math.min(...firsts);
  return { jobsPerSec: Math.round(BURN_JOBS / ((end - start) / 1000)), peakRssMb: Math.round(Math.max(...rss) / 1024 / 1024) };
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

async function vacuum(): Promise<void> {
  const client = new pg.Client(url);
  await client.connect();
  await client.query("vacuum analyze");
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
  const fl = by("floor (bare SQL)");
  const ratio = (a?: number, b?: number) => (a && b ? `${(a / b).toFixed(2)}x` : "—");
  const lines = [
    `Burn-down: ${BURN_JOBS.toLocaleString("en")} no-op jobs, ${WORKERS} worker processes x concurrency ${CONCURRENCY}. Latency: ${LATENCY_JOBS} jobs inserted one by one, insert call to handler start. Machine: ${machine()}.`,
    "",
    "| queue | burn-down jobs/s | vs graphile-worker | vs floor | bulk insert jobs/s | vs graphile-worker | latency p50 / p95 / p99 ms | peak worker RSS MB |",
    "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
  ];
  for (const r of rows) {
    if (r.error) {
      lines.push(`| ${r.contender} | failed: ${r.error.replaceAll("|", "/")} | | | | | | |`);
      continue;
    }
    const l = r.latencyMs && r.latencyMs.samples > 0
      ? `${r.latencyMs.p50} / ${r.latencyMs.p95} / ${r.latencyMs.p99}${r.latencyMs.samples < LATENCY_JOBS ? ` (${r.latencyMs.samples} samples in ${LATENCY_BUDGET_MS / 1000} s)` : ""}`
      : "—";
    lines.push(
      `| ${r.contender} | ${r.burnDownJobsPerSec} | ${ratio(r.burnDownJobsPerSec, gw?.burnDownJobsPerSec)} | ${ratio(r.burnDownJobsPerSec, fl?.burnDownJobsPerSec)} | ${r.bulkInsertJobsPerSec ?? "—"} | ${ratio(r.bulkInsertJobsPerSec, gw?.bulkInsertJobsPerSec)} | ${l} | ${r.peakWorkerRssMb} |`,
    );
  }
  lines.push("", generator.note ? `Generator: ${generator.note}` : `Generator (50 queues): cold \`sidetrack generate\` ${generator.coldMs} ms; \`--watch\` regeneration ${generator.watchRegenerateMs} ms.`);
  return lines.join("\n");
}

function machine(): string {
  return `${cpus().length} cores (${cpus()[0]?.model.trim()}), ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}`;
}
