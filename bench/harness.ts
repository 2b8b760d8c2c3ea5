// The burn-down pieces shared by bench/run.ts (the contender matrix) and bench/scaling.ts (worker
// processes 1 to 8): the bundled worker, the burn-down itself, and the vacuum before each run.
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import pg from "pg";
import type { Contender } from "./contender.js";
import type { Shape } from "./workload.js";

export interface BurnDown {
  jobsPerSec: number;
  peakRssMb: number;
  /** CPU time per job: worker processes, and the PostgreSQL server when it runs on this machine. */
  cpuUsPerJob: { workers: number; postgres?: number };
  walBytesPerJob?: number;
  /** The burn-down hit its budget and was measured from the jobs done by then. */
  partial: boolean;
}

export interface BurnDownOptions {
  url: string;
  /** Jobs inserted before the workers start. */
  jobs: number;
  /** A burn-down still running after this long is measured from what it did by then (marked partial). */
  budgetMs: number;
  /** Extra node flags for the worker processes. */
  nodeArgs?: string[];
  /** Told the measured window (epoch ms: first handler call in any worker, end) once it is known. */
  onWindow?: (startMs: number, endMs: number) => void;
}

/** The bundled burn-down worker (see bundleWorker), built on first use. */
let bundled: Promise<string> | undefined;

/**
 * The burn-down workers run as one bundled JavaScript file under plain node, like a deployed
 * worker: under tsx every worker process would carry the TypeScript loader (about 50 MB of RSS
 * and a second of start-up CPU) in the figures of every queue. Packages stay external. Built
 * once per bench run, on the first burn-down.
 */
export function workerScript(): Promise<string> {
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

/** `shape.processes` worker processes burn down the `jobs` already inserted. */
export async function burnDown(c: Contender, shape: Shape, o: BurnDownOptions): Promise<BurnDown> {
  const { url } = o;
  const pgCpuBefore = postgresCpuMs();
  const walBefore = await walLsn(url);
  const script = await workerScript(); // bundled once per bench run
  const children = Array.from({ length: shape.processes }, () => {
    const child = spawn(process.execPath, [...(o.nodeArgs ?? []), script, c.name, url, String(shape.concurrency), String(shape.handlerMs)], {
      stdio: ["ignore", "pipe", "inherit"],
    });
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
  let partial = false;
  while (left > 0) {
    if (Date.now() - began > o.budgetMs) {
      partial = true;
      break;
    }
    const done = o.jobs - left;
    const rate = done / Math.max(1, Date.now() - began); // jobs per ms so far
    const expectedMs = rate > 0 ? left / rate : 1_000;
    await new Promise((r) => setTimeout(r, Math.min(1_000, Math.max(20, expectedMs / 4))));
    left = await c.remaining(url);
  }
  const end = Date.now();
  const walAfter = await walLsn(url);
  for (const ch of children) ch.child.kill("SIGTERM");
  await Promise.all(children.map((ch) => ch.exited));
  const firsts = children.map((ch) => /first (\d+)/.exec(ch.out())?.[1]).filter(Boolean).map(Number);
  const rss = children.map((ch) => Number(/rss (\d+)/.exec(ch.out())?.[1] ?? 0));
  const workerCpuMs = children.reduce((sum, ch) => sum + Number(/cpu (\d+)/.exec(ch.out())?.[1] ?? 0), 0);
  const pgCpuAfter = postgresCpuMs();
  const start = Math.min(...firsts);
  o.onWindow?.(start, end);
  const jobs = o.jobs - left;
  const perJob = (ms: number) => Math.round((ms * 1000) / jobs);
  return {
    jobsPerSec: Math.round(jobs / ((end - start) / 1000)),
    peakRssMb: Math.round(Math.max(...rss) / 1024 / 1024),
    cpuUsPerJob: { workers: perJob(workerCpuMs), postgres: pgCpuBefore !== undefined && pgCpuAfter !== undefined ? perJob(pgCpuAfter - pgCpuBefore) : undefined },
    walBytesPerJob: walBefore !== undefined && walAfter !== undefined ? Math.round(Number(BigInt(walAfter) - BigInt(walBefore)) / jobs) : undefined,
    partial,
  };
}

/** The server's WAL position in bytes (text, a bigint), or undefined when it cannot be read. */
export async function walLsn(url: string): Promise<string | undefined> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return (await client.query<{ lsn: string }>("select pg_wal_lsn_diff(pg_current_wal_lsn(), '0/0')::bigint::text as lsn")).rows[0]!.lsn;
  } catch {
    return undefined;
  } finally {
    await client.end();
  }
}

/**
 * CPU time used so far by the PostgreSQL server's processes, when the server runs on this
 * machine (Linux /proc). Backends that exited are included through the postmaster's
 * children's times. Undefined elsewhere (remote server, other systems).
 */
export function postgresCpuMs(): number | undefined {
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

/**
 * Vacuums, then checkpoints: a checkpoint that happened to fall inside a burn-down made every
 * page's first change after it write a full page image to the WAL, and tripled the server's CPU
 * per job in that run. Starting each run right after one gives every queue the same conditions.
 * (CHECKPOINT needs a superuser or pg_checkpoint; without it the runs are just noisier.)
 */
export async function vacuum(url: string): Promise<void> {
  const client = new pg.Client(url);
  await client.connect();
  await client.query("vacuum analyze");
  await client.query("checkpoint").catch((error: Error) => console.error(`   (no checkpoint before the run: ${error.message})`));
  await client.end();
}
