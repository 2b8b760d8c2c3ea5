// `npm run chaos`: Sidetrack under the faults production brings.
//
// Three worker processes (scripts/chaos-worker.ts) work through 50,000 jobs while this driver,
// for a bounded time, SIGKILLs a random worker every few seconds and starts a new one,
// terminates a worker's connections with pg_terminate_backend, freezes a worker (SIGSTOP for one
// to three leases, then SIGCONT), restarts PostgreSQL once, and
// keeps inserting jobs, half of them in transactions that roll back. With --pgbouncer the
// workers' pools and the driver's inserts go through a PgBouncer in transaction mode that the run
// starts on a free port (named statements off; LISTEN, the liveness lock and the run records on
// direct connections), and it restarts PgBouncer on the same port twice: at a quarter of the
// fault window immediately (SIGTERM: every connection cut, queries in flight included), at three
// quarters safely (SIGINT: queries in flight finish first), down 500 ms each time. Then it waits
// for the queue to drain and checks:
//   - every committed job completed (lost jobs: 0);
//   - no rolled-back job exists or ran;
//   - a job ran more than once only when a run's attempt was cut short: its worker was killed,
//     its connections were terminated, the server or PgBouncer restarted under it, or it lost its
//     lease (the job's errors record that attempt);
//   - nothing is left running;
//   - behind PgBouncer: handlers started again after every PgBouncer restart.
// It reports, for each SIGKILL, the time until the last of the victim's jobs was rescued, and
// for each PgBouncer restart how long it was down and when the first handler started after it.
// Flags: --jobs N (default 50000), --seconds S of faults (default 60), --quick (3,000 jobs,
// 6 s), --drain-timeout S, --pgbouncer (needs Debian's pgbouncer, /usr/sbin/pgbouncer).
// Without DATABASE_URL it runs on an embedded PostgreSQL of its own (what CI does). With
// DATABASE_URL it works in a fresh database on that server, and restarts the server only when it
// is the machine's 127.0.0.1:5432 (pg_ctlcluster); otherwise it says it skipped the restart.
// Exits 1 when a check fails.
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import pg from "pg";
import { runMigrations, Sidetrack, usePg } from "../runtime/index.js";
import { exitOnEmbeddedError, startEmbeddedPostgres, type EmbeddedDatabase } from "./embedded-postgres.js";
import { findPgBouncer, startPgBouncer, type PgBouncer, type PgBouncerStopMode } from "./pgbouncer.js";

const SCHEMA = "sidetrack";
const QUEUE = "chaos";
// In the mix: a queue limited to 3 running jobs across the workers, and one paused before the
// workers start and resumed half-way through the faults (none of its jobs may run before that).
const LIMITED_QUEUE = "chaosLimited";
const PAUSED_QUEUE = "chaosPaused";
const WORKERS = 3;

export interface ChaosOptions {
  /** Committed jobs in all: 20% inserted up front, 80% during the faults (plus as many rolled back). */
  jobs: number;
  /** How long faults are injected. */
  seconds: number;
  /** Server to use; unset: an embedded PostgreSQL of the run's own. */
  databaseUrl?: string;
  /** Lease of the workers; short, so rescues happen during the run. */
  leaseMs?: number;
  /** Mean time between SIGKILLs (a random worker each time). Default: every 2-4 s, scaled down for short runs. */
  killEveryMs?: number;
  /** Mean time between pg_terminate_backend rounds. */
  terminateEveryMs?: number;
  /** Mean time between SIGSTOP/SIGCONT rounds (a random worker frozen for 1-3 leases). */
  freezeEveryMs?: number;
  /** Give up waiting for the drain after this long. Default 300 s. */
  drainTimeoutMs?: number;
  /**
   * Put a PgBouncer (transaction mode, started by the run on a free port) between the server
   * and the workers' pools and the driver's inserts, and restart it during the faults.
   */
  pgbouncer?: boolean;
  /** PgBouncer restarts during the faults, alternately immediate (SIGTERM) and safe (SIGINT). Default 2. */
  pgbouncerRestarts?: number;
  /** How long PgBouncer stays down in each restart. Default 500 ms. */
  pgbouncerDownMs?: number;
  /** Progress lines; default console.log. */
  log?: (line: string) => void;
}

export interface ChaosFigures {
  committedJobs: number;
  rolledBackJobs: number;
  /** Inserts whose COMMIT failed (server restart): either outcome is accepted, but if the jobs exist they must have completed. */
  uncertainJobs: number;
  kills: number;
  workerStarts: number;
  unexpectedWorkerExits: number;
  postgresRestarts: number;
  restartSkipped?: string;
  connectionKills: number;
  connectionsTerminated: number;
  /** SIGSTOP/SIGCONT rounds. */
  freezes: number;
  /** Set when the run went through PgBouncer: its version and each restart round. */
  pgbouncer?: { version: string; restarts: PgBouncerRound[] };
  /** Per SIGKILL: ms from the kill until the last of the victim's jobs was rescued (NaN: it held none). */
  killRescueMs: number[];
  runs: number;
  duplicateRuns: number;
  duplicateRunsExplained: number;
  duplicateCauses: Record<string, number>;
  rescues: number;
  lostJobs: number;
  faultSeconds: number;
  drainMs: number;
  /** Jobs waiting or running when the faults ended: the drain time is mostly working these off. */
  backlogAtLastFault: number;
  totalSeconds: number;
}

export interface ChaosResult {
  ok: boolean;
  figures: ChaosFigures;
  /** One line per check, "ok …" or "FAIL …". */
  checks: { name: string; ok: boolean; detail: string }[];
}

/** One PgBouncer restart: how it was stopped and how the workers came back. */
export interface PgBouncerRound {
  mode: PgBouncerStopMode;
  /** ms from the stop signal until PgBouncer accepted connections again. */
  outageMs: number;
  /** ms from PgBouncer accepting again until the first handler started (NaN: none did). */
  firstRunAfterMs: number;
}

export interface Fault {
  kind: "kill" | "terminate" | "restart" | "freeze" | "pgbouncer";
  /** The worker hit; undefined for a restart of PostgreSQL or PgBouncer (every worker is hit). */
  worker?: string;
  /** ms since epoch: when the fault began and ended (a restart takes a while). */
  at: number;
  until: number;
}

const workerScript = fileURLToPath(new URL("./chaos-worker.ts", import.meta.url));

class WorkerSlot {
  gen = 0;
  child: ChildProcess | undefined;
  workerId = "";
  expectingExit = false;
  log: string[] = [];
  errorLines = 0;
  constructor(
    readonly index: number,
    /** The server, and PgBouncer in front of it when the run goes through one. */
    private readonly urls: { direct: string; bounced?: string },
    private readonly leaseMs: number,
    private readonly onUnexpectedExit: (slot: WorkerSlot, code: number | null, signal: string | null) => void,
  ) {}

  /** Starts a new generation of this slot's worker; resolves when it printed "ready". */
  start(): Promise<void> {
    this.gen++;
    this.workerId = `chaos-w${this.index}-g${this.gen}`;
    this.expectingExit = false;
    // Every connection carries the worker's id, so the driver can find and terminate them.
    const named = (url: string) => withApplicationName(url, this.workerId);
    const { direct, bounced } = this.urls;
    const connections = bounced
      ? { DATABASE_URL: named(bounced), PREPARED: "false", LISTEN_URL: named(direct), RECORD_URL: named(direct) }
      : { DATABASE_URL: named(direct) };
    const child = spawn(process.execPath, ["--import", "tsx", workerScript], {
      env: { ...process.env, ...connections, WORKER_ID: this.workerId, SCHEMA, LEASE_MS: String(this.leaseMs) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    const id = this.workerId;
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
      for (const line of chunk.split("\n")) {
        if (!line) continue;
        if (line.startsWith("error")) this.errorLines++;
        this.log.push(`[${id}] ${line}`);
        if (this.log.length > 200) this.log.shift();
      }
    });
    let stdout = "";
    const ready = new Promise<void>((resolve, reject) => {
      child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
        stdout += chunk;
        if (/^ready$/m.test(stdout)) resolve();
      });
      child.once("exit", (code, signal) => {
        reject(new Error(`${id} exited (${code ?? signal}) before it was ready`));
        if (!this.expectingExit && this.child === child) this.onUnexpectedExit(this, code, signal);
      });
    });
    ready.catch(() => undefined);
    return ready;
  }

  /** SIGSTOP for `ms`, then SIGCONT: a frozen host whose session stays open. */
  async freeze(ms: number): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGSTOP");
    await sleep(ms);
    child.kill("SIGCONT");
  }

  kill(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    this.expectingExit = true;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGKILL");
    return exited;
  }

  /** Graceful stop (SIGTERM); SIGKILL after `timeoutMs`. */
  async stop(timeoutMs = 15_000): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    this.expectingExit = true;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    await exited;
    clearTimeout(timer);
  }
}

function withApplicationName(url: string, name: string): string {
  const named = new URL(url);
  named.searchParams.set("application_name", name);
  return named.toString();
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const jitter = (mean: number) => Math.round(mean * (0.5 + Math.random()));

export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const startedAt = Date.now();
  const jobs = options.jobs;
  const faultMs = Math.round(options.seconds * 1000);
  const leaseMs = options.leaseMs ?? 2_000;
  const killEveryMs = options.killEveryMs ?? Math.max(700, Math.min(3_000, faultMs / 4));
  const terminateEveryMs = options.terminateEveryMs ?? Math.max(500, Math.min(2_500, faultMs / 6));
  const freezeEveryMs = options.freezeEveryMs ?? Math.max(1_000, Math.min(5_000, faultMs / 3));
  const drainTimeoutMs = options.drainTimeoutMs ?? 300_000;
  const pgbouncerRestarts = options.pgbouncer ? (options.pgbouncerRestarts ?? 2) : 0;
  const pgbouncerDownMs = options.pgbouncerDownMs ?? 500;
  const pgbouncerBinary = options.pgbouncer ? findPgBouncer() : undefined;
  if (options.pgbouncer && !pgbouncerBinary) throw new Error("--pgbouncer: pgbouncer is not installed (apt-get install pgbouncer)");

  // --- the server and a fresh database -------------------------------------------------------
  let embedded: EmbeddedDatabase | undefined;
  let url: string;
  let dropDatabase: (() => Promise<void>) | undefined;
  let restartServer: (() => Promise<void>) | undefined;
  let restartSkipped: string | undefined;
  if (!options.databaseUrl) {
    log("chaos: starting an embedded PostgreSQL (DATABASE_URL is unset)");
    embedded = await startEmbeddedPostgres().catch(exitOnEmbeddedError);
    url = embedded.url;
    restartServer = () => embedded!.restart();
  } else {
    const admin = new URL(options.databaseUrl);
    const name = `sidetrack_chaos_${randomBytes(4).toString("hex")}`;
    const client = new pg.Client({ connectionString: admin.toString() });
    await client.connect();
    await client.query(`create database "${name}"`);
    await client.end();
    const own = new URL(admin);
    own.pathname = `/${name}`;
    url = own.toString();
    dropDatabase = async () => {
      const c = new pg.Client({ connectionString: admin.toString() });
      await c.connect();
      await c.query(`drop database if exists "${name}" with (force)`);
      await c.end();
    };
    if ((admin.hostname === "127.0.0.1" || admin.hostname === "localhost") && (admin.port || "5432") === "5432") {
      restartServer = async () => {
        await promisify(execFile)("pg_ctlcluster", ["--skip-systemctl-redirect", "15", "main", "restart"]);
      };
    } else {
      restartSkipped = `DATABASE_URL points at ${admin.hostname}:${admin.port || "5432"}, not the machine's 127.0.0.1:5432: PostgreSQL restart skipped`;
      log(`chaos: ${restartSkipped}`);
    }
  }

  // The driver's own pool goes straight to the server: setting up, terminating connections,
  // watching the drain and checking must not depend on the PgBouncer it restarts. Its inserts
  // (and pause/resume) go where the application's would: through PgBouncer when there is one.
  const named = (raw: string) => withApplicationName(raw, "chaos-driver");
  const pool = new pg.Pool({ connectionString: named(url), max: 4 });
  pool.on("error", () => undefined);
  let bouncer: PgBouncer | undefined;
  let insertPool = pool;
  const slots: WorkerSlot[] = [];
  const faults: Fault[] = [];
  let unexpectedExits = 0;
  let workerStarts = 0;
  let connectionsTerminated = 0;

  try {
    if (pgbouncerBinary) {
      // Server connections for 3 workers' pools (6 each) and the driver's inserts: fewer than
      // the clients may ask for, so PgBouncer really multiplexes. PostgreSQL restarts during
      // the run: with PgBouncer's default server_login_retry (15 s) every client would be refused
      // for 15 s after the restart, so the run uses the 1 s the deployment docs recommend.
      bouncer = await startPgBouncer(url, pgbouncerBinary, { poolSize: 12, serverLoginRetrySeconds: 1 });
      insertPool = new pg.Pool({ connectionString: named(bouncer.url), max: 4 });
      insertPool.on("error", () => undefined);
      log(`chaos: ${bouncer.version} in transaction mode on port ${bouncer.port}; workers without named statements, LISTEN and liveness on direct connections`);
    }
    await runMigrations({ pool, schema: SCHEMA });
    await pool.query(`create schema chaos;
      create table chaos.runs (job_id bigint not null, marker text not null, attempt int not null, worker text not null,
        run_at timestamptz not null default clock_timestamp());
      create table chaos.orders (marker text primary key)`);

    // --- initial jobs, committed ----------------------------------------------------------------
    type ChaosQueues = { chaos: { m: string }; chaosLimited: { m: string }; chaosPaused: { m: string } };
    const inserter = new Sidetrack<ChaosQueues>({
      databaseOptions: { pool: insertPool },
      preparedStatements: !bouncer,
      schema: SCHEMA,
      queues: { chaos: {}, chaosLimited: {}, chaosPaused: {} },
    });
    const committed = new Set<string>();
    const rolledBack = new Set<string>();
    const uncertain = new Set<string>();
    let seq = 0;
    const upFront = Math.round(jobs * 0.2);
    const inRun = jobs - upFront;
    // A tenth of the up-front jobs each to the limited and the paused queue.
    const sideJobs = Math.max(1, Math.round(upFront / 10));
    for (const queue of [LIMITED_QUEUE, PAUSED_QUEUE] as const) {
      const markers = Array.from({ length: sideJobs }, () => `c${++seq}`);
      await inserter.insertJobs(queue, markers.map((m) => ({ m })));
      for (const m of markers) committed.add(m);
    }
    await inserter.pauseQueue(PAUSED_QUEUE);
    for (let done = 2 * sideJobs; done < upFront; ) {
      const n = Math.min(2_000, upFront - done);
      const markers = Array.from({ length: n }, () => `c${++seq}`);
      await inserter.insertJobs(QUEUE, markers.map((m) => ({ m })));
      for (const m of markers) committed.add(m);
      done += n;
    }
    log(`chaos: inserted ${upFront} jobs; starting ${WORKERS} workers (lease ${leaseMs}ms)`);

    // --- workers --------------------------------------------------------------------------------
    const respawn = (slot: WorkerSlot, code: number | null, signal: string | null) => {
      unexpectedExits++;
      log(`chaos: worker ${slot.workerId} exited on its own (${code ?? signal}); last log lines:\n${slot.log.slice(-60).join("\n")}`);
      void startSlot(slot);
    };
    const startSlot = async (slot: WorkerSlot) => {
      workerStarts++;
      await slot.start().catch(() => undefined);
    };
    for (let i = 0; i < WORKERS; i++) slots.push(new WorkerSlot(i + 1, { direct: url, bounced: bouncer?.url }, leaseMs, respawn));
    await Promise.all(slots.map((s) => startSlot(s)));

    // --- faults ---------------------------------------------------------------------------------
    const faultStart = Date.now();
    const faultEnd = faultStart + faultMs;
    const timers: Promise<void>[] = [];

    /** Runs `round` on a random worker about every `meanMs` (jittered) until the fault window ends. */
    const randomWorkerRounds = (meanMs: number, round: (slot: WorkerSlot) => Promise<void>) =>
      (async () => {
        for (;;) {
          await sleep(jitter(meanMs));
          if (Date.now() >= faultEnd) return;
          await round(slots[Math.floor(Math.random() * slots.length)]!);
        }
      })();

    // SIGKILL a random worker, start its successor.
    timers.push(
      randomWorkerRounds(killEveryMs, async (slot) => {
        const at = Date.now();
        const victim = slot.workerId;
        await slot.kill();
        faults.push({ kind: "kill", worker: victim, at, until: Date.now() });
        // Its successor starts in the background: the next kill may find it still starting.
        void startSlot(slot);
      }),
    );

    // pg_terminate_backend every connection of a random worker.
    timers.push(
      randomWorkerRounds(terminateEveryMs, async (slot) => {
        const victim = slot.workerId;
        const at = Date.now();
        try {
          const { rows } = await pool.query<{ n: number }>(
            "select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where application_name = $1",
            [victim],
          );
          connectionsTerminated += rows[0]?.n ?? 0;
          faults.push({ kind: "terminate", worker: victim, at, until: Date.now() });
        } catch {
          // the server is restarting: skip this round
        }
      }),
    );

    // SIGSTOP a random worker for one to three leases, then SIGCONT: its session stays open, so
    // only its leases can free its jobs; on resuming it must abort them.
    timers.push(
      randomWorkerRounds(freezeEveryMs, async (slot) => {
        const victim = slot.workerId;
        const at = Date.now();
        await slot.freeze(Math.round(leaseMs * (1 + Math.random() * 2)));
        faults.push({ kind: "freeze", worker: victim, at, until: Date.now() });
      }),
    );

    // Resume the paused queue half-way; until then none of its jobs may have run.
    let resumedAt: Date | undefined;
    timers.push(
      (async () => {
        await sleep(Math.round(faultMs / 2));
        for (;;) {
          try {
            const { rows } = await pool.query<{ at: Date }>("select clock_timestamp() as at");
            await inserter.resumeQueue(PAUSED_QUEUE);
            resumedAt = rows[0]!.at;
            log(`chaos: resumed ${PAUSED_QUEUE}`);
            return;
          } catch {
            await sleep(100); // the server is restarting
          }
        }
      })(),
    );

    // Restart PostgreSQL once, around the middle.
    let restarts = 0;
    if (restartServer) {
      const restart = restartServer;
      timers.push(
        (async () => {
          await sleep(Math.round(faultMs * (0.4 + Math.random() * 0.2)));
          const at = Date.now();
          log("chaos: restarting PostgreSQL");
          await restart();
          restarts++;
          faults.push({ kind: "restart", at, until: Date.now() });
          log(`chaos: PostgreSQL back after ${Date.now() - at}ms`);
        })(),
      );
    }

    // Restart PgBouncer a few times, away from the middle where PostgreSQL restarts: first
    // immediately (connections cut mid-query), then safely (queries in flight finish first).
    const bouncerRounds: { mode: PgBouncerStopMode; at: number; until: number }[] = [];
    if (bouncer) {
      const b = bouncer;
      timers.push(
        (async () => {
          for (let i = 0; i < pgbouncerRestarts; i++) {
            await sleep(Math.max(0, faultStart + Math.round((faultMs * (2 * i + 1)) / (2 * pgbouncerRestarts)) - Date.now()));
            const mode: PgBouncerStopMode = i % 2 === 0 ? "immediate" : "safe";
            const at = Date.now();
            log(`chaos: restarting PgBouncer (${mode === "safe" ? "SIGINT, safe" : "SIGTERM, immediate"} shutdown, down ${pgbouncerDownMs}ms)`);
            await b.restart(mode, pgbouncerDownMs);
            const until = Date.now();
            faults.push({ kind: "pgbouncer", at, until });
            bouncerRounds.push({ mode, at, until });
            log(`chaos: PgBouncer back after ${until - at}ms`);
          }
        })(),
      );
    }

    // Progress, so the log shows the faults landing while the workers are busy.
    timers.push(
      (async () => {
        const every = Math.max(2_000, Math.min(10_000, faultMs / 4));
        for (;;) {
          await sleep(every);
          if (Date.now() >= faultEnd) return;
          try {
            const { rows } = await pool.query<{ live: number; done: number }>(
              `select count(*) filter (where status in ('scheduled', 'running', 'retrying'))::int as live,
                      count(*) filter (where status = 'completed')::int as done from ${SCHEMA}.jobs`,
            );
            log(`chaos: t=${((Date.now() - faultStart) / 1000).toFixed(0)}s: ${rows[0]!.done} completed, ${rows[0]!.live} waiting or running`);
          } catch {
            // the server is restarting
          }
        }
      })(),
    );

    // Insert new jobs throughout: half committed, half in transactions that roll back.
    const batch = Math.max(5, Math.ceil(inRun / 100));
    const rounds = Math.ceil(inRun / batch);
    const interval = (faultMs * 0.9) / Math.max(1, rounds);
    let inRunCommitted = 0;
    const insertRound = async (commit: boolean, n: number) => {
      const markers = Array.from({ length: n }, () => `${commit ? "c" : "r"}${++seq}`);
      let client: pg.PoolClient;
      try {
        client = await insertPool.connect();
      } catch {
        return; // the server or PgBouncer is restarting: these markers were never sent
      }
      // A checked-out client whose server goes away emits "error"; the query in flight rejects anyway.
      const ignore = () => undefined;
      client.on("error", ignore);
      let sentCommit = false;
      let broken: Error | undefined;
      try {
        await client.query("begin");
        await client.query("insert into chaos.orders (marker) select unnest($1::text[])", [markers]);
        await inserter.insertJobs(QUEUE, markers.map((m) => ({ m })), { dbClient: usePg(client, { preparedStatements: !bouncer }) });
        if (commit) {
          sentCommit = true;
          await client.query("commit");
          for (const m of markers) committed.add(m);
          inRunCommitted += n;
        } else {
          await client.query("rollback");
          for (const m of markers) rolledBack.add(m);
        }
      } catch (error) {
        broken = error as Error;
        await client.query("rollback").catch(() => undefined);
        // Before COMMIT was sent nothing can have been committed; a failed COMMIT may or may not have.
        for (const m of markers) (commit && sentCommit ? uncertain : rolledBack).add(m);
      } finally {
        client.off("error", ignore);
        client.release(broken);
      }
    };
    timers.push(
      (async () => {
        for (let round = 0; Date.now() < faultEnd && inRunCommitted < inRun; round++) {
          // Evenly spread over the fault window, so the workers are busy while the faults land.
          await sleep(Math.max(0, faultStart + round * interval - Date.now()));
          await insertRound(true, Math.min(batch, inRun - inRunCommitted));
          await insertRound(false, batch);
        }
      })(),
    );

    await Promise.all(timers);
    // Whatever of the in-run share could not be inserted during the faults is inserted now, still
    // alongside as many rolled-back jobs.
    while (inRunCommitted < inRun) {
      const n = Math.min(batch, inRun - inRunCommitted);
      await insertRound(true, n);
      await insertRound(false, n);
    }
    const lastFault = Math.max(faultStart, ...faults.map((f) => f.until));
    let backlogAtLastFault = Number.NaN;
    try {
      const { rows } = await pool.query<{ live: number }>(`select count(*)::int as live from ${SCHEMA}.jobs where status in ('scheduled', 'running', 'retrying')`);
      backlogAtLastFault = rows[0]!.live;
    } catch {
      // reported as unknown
    }
    const faultSeconds = (Date.now() - faultStart) / 1000;
    log(
      `chaos: faults over after ${faultSeconds.toFixed(1)}s (${faults.filter((f) => f.kind === "kill").length} kills, ` +
        `${faults.filter((f) => f.kind === "terminate").length} connection kills, ${faults.filter((f) => f.kind === "freeze").length} freezes, ${restarts} restarts` +
        `${bouncer ? `, ${bouncerRounds.length} PgBouncer restarts` : ""}); waiting for the drain`,
    );

    // --- drain -------------------------------------------------------------------------------
    let drainedAt: number | undefined;
    let lastReport = Date.now();
    while (Date.now() - lastFault < drainTimeoutMs) {
      try {
        const { rows } = await pool.query<{ live: number; done: number }>(
          `select count(*) filter (where status in ('scheduled', 'running', 'retrying'))::int as live,
                  count(*) filter (where status = 'completed')::int as done from ${SCHEMA}.jobs`,
        );
        if (rows[0]!.live === 0) {
          drainedAt = Date.now();
          break;
        }
        if (Date.now() - lastReport > 10_000) {
          lastReport = Date.now();
          log(`chaos: draining: ${rows[0]!.done} completed, ${rows[0]!.live} to go`);
        }
      } catch {
        // a connection of the pool died in the restart; the next one is fresh
      }
      await sleep(100);
    }
    const drainMs = drainedAt === undefined ? Number.NaN : Math.max(0, drainedAt - lastFault);
    await Promise.all(slots.map((s) => s.stop()));

    // --- checks --------------------------------------------------------------------------------
    const { rows: jobRows } = await pool.query<{ id: string; m: string; status: string; attempt: number; errors: { attempt: number; message: string; at?: string }[] }>(
      `select id::text, payload->>'m' as m, status, attempt, errors from ${SCHEMA}.jobs`,
    );
    const { rows: runRows } = await pool.query<{ job_id: string; marker: string; attempt: number; worker: string; run_at: Date }>(
      "select job_id::text, marker, attempt, worker, run_at from chaos.runs order by run_at",
    );
    const { rows: orderRows } = await pool.query<{ marker: string }>("select marker from chaos.orders");
    const checks: ChaosResult["checks"] = [];
    const check = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });

    const { rows: pausedRuns } = await pool.query<{ first: Date | null }>(
      `select min(r.run_at) as first from chaos.runs r join ${SCHEMA}.jobs j on j.id = r.job_id where j.queue = $1`,
      [PAUSED_QUEUE],
    );
    const firstPaused = pausedRuns[0]!.first;
    check(
      "no job of the paused queue ran before it was resumed",
      resumedAt !== undefined && firstPaused !== null && firstPaused >= resumedAt,
      `resumed at ${resumedAt?.toISOString() ?? "never"}, its first run at ${firstPaused?.toISOString() ?? "never"}`,
    );

    const byMarker = new Map<string, typeof jobRows>();
    for (const j of jobRows) byMarker.set(j.m, [...(byMarker.get(j.m) ?? []), j]);
    const lost = [...committed].filter((m) => (byMarker.get(m) ?? []).filter((j) => j.status === "completed").length !== 1);
    check("every committed job completed", lost.length === 0, lost.length === 0 ? `${committed.size} of ${committed.size}` : `not completed: ${lost.slice(0, 10).join(", ")}`);

    const uncertainPresent = [...uncertain].filter((m) => byMarker.has(m));
    const uncertainBad = uncertainPresent.filter((m) => byMarker.get(m)!.some((j) => j.status !== "completed"));
    check(
      "inserts with an unknown commit outcome: present ones completed",
      uncertainBad.length === 0,
      `${uncertain.size} uncertain, ${uncertainPresent.length} committed after all, ${uncertainBad.length} not completed`,
    );

    const ghostJobs = [...rolledBack].filter((m) => byMarker.has(m));
    const ghostRuns = runRows.filter((r) => rolledBack.has(r.marker));
    const ghostOrders = orderRows.filter((r) => rolledBack.has(r.marker));
    check(
      "no rolled-back job exists or ran",
      ghostJobs.length === 0 && ghostRuns.length === 0 && ghostOrders.length === 0,
      `${rolledBack.size} rolled back; ${ghostJobs.length} exist, ${ghostRuns.length} runs, ${ghostOrders.length} application rows`,
    );

    const strangers = jobRows.filter((j) => !committed.has(j.m) && !uncertain.has(j.m));
    check("no job the driver did not insert", strangers.length === 0, `${strangers.length} unexpected`);

    const notFinished = jobRows.filter((j) => j.status !== "completed");
    check("nothing left running (or anything but completed)", notFinished.length === 0, notFinished.length === 0 ? "all completed" : summarize(notFinished.map((j) => j.status)));

    // Runs beyond one: each earlier run must have been cut short.
    const runsByJob = new Map<string, typeof runRows>();
    for (const r of runRows) runsByJob.set(r.job_id, [...(runsByJob.get(r.job_id) ?? []), r]);
    const jobById = new Map(jobRows.map((j) => [j.id, j]));
    const killedWorkers = new Map(faults.filter((f) => f.kind === "kill").map((f) => [f.worker!, f]));
    const causes: Record<string, number> = {};
    const unexplained: string[] = [];
    let duplicateRuns = 0;
    let rescues = 0;
    for (const j of jobRows) rescues += j.errors.filter((e) => RESCUED.test(e.message)).length;
    // For each SIGKILL: how long until the last of the victim's jobs was rescued.
    const rescuedAt = new Map<string, number>();
    for (const j of jobRows) {
      for (const e of j.errors) {
        const worker = RESCUED.test(e.message) ? /^worker (\S+) /.exec(e.message)?.[1] : undefined;
        const at = e.at === undefined ? Number.NaN : new Date(e.at).getTime();
        if (worker && !Number.isNaN(at)) rescuedAt.set(worker, Math.max(rescuedAt.get(worker) ?? 0, at));
      }
    }
    const killRescueMs = faults.filter((f) => f.kind === "kill").map((f) => (rescuedAt.has(f.worker!) ? rescuedAt.get(f.worker!)! - f.at : Number.NaN));
    const finalRunMissing: string[] = [];
    for (const [jobId, list] of runsByJob) {
      const job = jobById.get(jobId);
      if (job && job.status === "completed" && !list.some((r) => r.attempt === job.attempt)) finalRunMissing.push(jobId);
      if (list.length < 2) continue;
      // The completing run is the one of the job's final attempt; every other run needs a reason.
      const others = list.filter((r) => !(job && r.attempt === job.attempt)).concat(list.filter((r) => job && r.attempt === job.attempt).slice(1));
      for (const run of others) {
        duplicateRuns++;
        const cause = explainDuplicate(run, job, killedWorkers, faults, leaseMs);
        if (cause) causes[cause] = (causes[cause] ?? 0) + 1;
        else unexplained.push(`job ${jobId} attempt ${run.attempt} by ${run.worker} at ${run.run_at.toISOString()}`);
      }
    }
    check("every completed job has a recorded run of its final attempt", finalRunMissing.length === 0, `${finalRunMissing.length} without`);
    check(
      "runs beyond one only where the worker died or lost its lease",
      unexplained.length === 0,
      `${duplicateRuns} duplicate runs, ${duplicateRuns - unexplained.length} explained${unexplained.length ? `; unexplained: ${unexplained.slice(0, 5).join("; ")}` : ""}`,
    );
    check("the queue drained", drainedAt !== undefined, drainedAt === undefined ? `still not drained ${drainTimeoutMs}ms after the last fault` : `${drainMs}ms after the last fault`);
    check("workers exited only when killed", unexpectedExits === 0, `${unexpectedExits} unexpected exits`);
    // Jobs keep being inserted after each round; a fleet that stopped claiming after one would
    // leave them undrained, and this says which round it was.
    const bouncerRestartFigures: PgBouncerRound[] = bouncerRounds.map((r) => {
      const after = runRows.find((run) => run.run_at.getTime() >= r.until);
      return { mode: r.mode, outageMs: r.until - r.at, firstRunAfterMs: after ? after.run_at.getTime() - r.until : Number.NaN };
    });
    const bouncerStalls = bouncerRestartFigures.filter((r) => Number.isNaN(r.firstRunAfterMs));
    if (bouncer) {
      check(
        "handlers started again after every PgBouncer restart",
        bouncerRounds.length === pgbouncerRestarts && bouncerStalls.length === 0,
        `${bouncerRounds.length} of ${pgbouncerRestarts} restarts done, ${bouncerStalls.length} with no handler start after`,
      );
    }

    const figures: ChaosFigures = {
      committedJobs: committed.size,
      rolledBackJobs: rolledBack.size,
      uncertainJobs: uncertain.size,
      kills: faults.filter((f) => f.kind === "kill").length,
      workerStarts,
      unexpectedWorkerExits: unexpectedExits,
      postgresRestarts: restarts,
      restartSkipped,
      connectionKills: faults.filter((f) => f.kind === "terminate").length,
      connectionsTerminated,
      freezes: faults.filter((f) => f.kind === "freeze").length,
      pgbouncer: bouncer && { version: bouncer.version, restarts: bouncerRestartFigures },
      killRescueMs,
      runs: runRows.length,
      duplicateRuns,
      duplicateRunsExplained: duplicateRuns - unexplained.length,
      duplicateCauses: causes,
      rescues,
      lostJobs: lost.length,
      faultSeconds,
      drainMs,
      backlogAtLastFault,
      totalSeconds: (Date.now() - startedAt) / 1000,
    };
    return { ok: checks.every((c) => c.ok), figures, checks };
  } finally {
    await Promise.all(slots.map((s) => s.kill()));
    if (insertPool !== pool) await insertPool.end().catch(() => undefined);
    await pool.end().catch(() => undefined);
    await bouncer?.stop();
    await dropDatabase?.().catch(() => undefined);
    await embedded?.stop();
  }
}

/**
 * Why a run that did not complete its job was cut short, or undefined when nothing explains it.
 * The job's errors name the attempt when it was rescued (lost lease) or failed (a query of the
 * handler or of the worker broke with its connection); otherwise the run's worker must have been
 * killed after it, or had its connections terminated, the server or PgBouncer restarted around it.
 * A PgBouncer restart never explains "is gone": the liveness session does not go through it.
 */
export function explainDuplicate(
  run: { attempt: number; worker: string; run_at: Date },
  job: { errors: { attempt: number; message: string }[] } | undefined,
  killed: Map<string, Fault>,
  faults: Fault[],
  leaseMs: number,
): string | undefined {
  const entry = job?.errors.find((e) => e.attempt === run.attempt);
  if (entry && /is gone/.test(entry.message)) {
    if (killed.has(run.worker)) return "worker gone (session ended): SIGKILLed";
    if (near(run, faults, leaseMs)) return "worker gone (session ended): connections terminated while it could not reconnect";
    return "worker gone (session ended) with no fault to explain it";
  }
  if (entry && /lost its lease/.test(entry.message)) {
    if (killed.has(run.worker)) return "lost lease: worker SIGKILLed";
    if (frozen(run, faults, leaseMs)) return "lost lease: worker frozen (SIGSTOP)";
    if (near(run, faults, leaseMs)) return "lost lease: connections terminated / server restarted";
    if (bouncerRestarted(run, faults, leaseMs)) return "lost lease: PgBouncer restarted (no lease renewal got through)";
    return "lost lease: worker stalled past its lease";
  }
  if (entry) return "attempt failed: connection lost after the run was recorded";
  if (killed.has(run.worker)) return "worker SIGKILLed before writing the completion";
  if (near(run, faults, leaseMs)) return "completion lost with the connection";
  if (bouncerRestarted(run, faults, leaseMs)) return "completion lost with the connection: PgBouncer restarted";
  return undefined;
}

/** Whether the run's worker was frozen (SIGSTOP) around it. */
function frozen(run: { worker: string; run_at: Date }, faults: Fault[], leaseMs: number): boolean {
  return around(run, faults, leaseMs, ["freeze"]);
}

/** How a rescue is recorded in a job's errors (rescueJobsSql): lease expiry, or worker gone. */
const RESCUED = /lost its lease|is gone/;

/** Whether a fault of `kinds` that hit the run's worker began within three leases after the run, or ended less than 1 s before it. */
function around(run: { worker: string; run_at: Date }, faults: Fault[], leaseMs: number, kinds: Fault["kind"][]): boolean {
  const t = run.run_at.getTime();
  return faults.some(
    (f) => kinds.includes(f.kind) && (f.worker === undefined || f.worker === run.worker) && f.until >= t - 1_000 && f.at <= t + leaseMs * 3,
  );
}

/** Whether the run's worker had its connections terminated, or the server restarted, around it. */
function near(run: { worker: string; run_at: Date }, faults: Fault[], leaseMs: number): boolean {
  return around(run, faults, leaseMs, ["restart", "terminate"]);
}

/** Whether PgBouncer, which every worker's pool goes through, was restarted around the run. */
function bouncerRestarted(run: { worker: string; run_at: Date }, faults: Fault[], leaseMs: number): boolean {
  return around(run, faults, leaseMs, ["pgbouncer"]);
}

/** Median and max of the SIGKILL rescue times; kills whose victim held no job are left out. */
export function rescueSummary(ms: number[]): string {
  const known = ms.filter((m) => !Number.isNaN(m)).sort((a, b) => a - b);
  if (known.length === 0) return "no kill found jobs to rescue";
  const median = known[Math.floor(known.length / 2)]!;
  return `median ${median} ms, max ${known[known.length - 1]} ms over ${known.length} kills (${ms.length - known.length} victims held no job)`;
}

function summarize(values: string[]): string {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return Object.entries(counts)
    .map(([k, n]) => `${n} ${k}`)
    .join(", ");
}

function formatBouncer(bouncer: NonNullable<ChaosFigures["pgbouncer"]>): string[] {
  return [
    `  PgBouncer restarts     ${bouncer.restarts.length} (${bouncer.version}, transaction mode)`,
    ...bouncer.restarts.map(
      (r) =>
        `      ${r.mode === "safe" ? "SIGINT (safe)      " : "SIGTERM (immediate)"}  back after ${r.outageMs} ms, ` +
        `first handler start ${Number.isNaN(r.firstRunAfterMs) ? "never" : `${r.firstRunAfterMs} ms`} after`,
    ),
  ];
}

export function formatResult(result: ChaosResult): string {
  const f = result.figures;
  const lines = [
    "",
    "chaos run figures",
    `  jobs committed         ${f.committedJobs}`,
    `  jobs rolled back       ${f.rolledBackJobs}${f.uncertainJobs ? ` (+${f.uncertainJobs} with a failed COMMIT)` : ""}`,
    `  worker SIGKILLs        ${f.kills} (worker processes started: ${f.workerStarts}, unexpected exits: ${f.unexpectedWorkerExits})`,
    `  PostgreSQL restarts    ${f.postgresRestarts}${f.restartSkipped ? ` (${f.restartSkipped})` : ""}`,
    `  connection kills       ${f.connectionKills} rounds, ${f.connectionsTerminated} backends terminated`,
    `  freezes (SIGSTOP)      ${f.freezes}`,
    ...(f.pgbouncer ? formatBouncer(f.pgbouncer) : []),
    `  SIGKILL -> rescued     ${rescueSummary(f.killRescueMs)}`,
    `  handler runs           ${f.runs}`,
    `  duplicate runs         ${f.duplicateRuns} (${f.duplicateRunsExplained} explained)`,
    ...Object.entries(f.duplicateCauses).map(([cause, n]) => `      ${String(n).padStart(6)}  ${cause}`),
    `  rescues                ${f.rescues}`,
    `  lost jobs              ${f.lostJobs}`,
    `  faults for             ${f.faultSeconds.toFixed(1)}s`,
    `  drain after last fault ${Number.isNaN(f.drainMs) ? "did not drain" : `${(f.drainMs / 1000).toFixed(2)}s`} (${Number.isNaN(f.backlogAtLastFault) ? "?" : f.backlogAtLastFault} jobs waiting or running at the last fault)`,
    `  total                  ${f.totalSeconds.toFixed(1)}s`,
    "",
    "checks",
    ...result.checks.map((c) => `  ${c.ok ? "ok  " : "FAIL"} ${c.name}: ${c.detail}`),
    "",
    result.ok ? "chaos: all checks passed" : "chaos: CHECKS FAILED",
  ];
  return lines.join("\n");
}

/** The short run of the test suite. */
export const QUICK: Pick<ChaosOptions, "jobs" | "seconds"> = { jobs: 3_000, seconds: 6 };

type Args = Pick<ChaosOptions, "jobs" | "seconds" | "drainTimeoutMs" | "pgbouncer">;

function parseArgs(argv: string[]): Args {
  const out: Args = { jobs: 50_000, seconds: 60 };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = () => {
      const v = Number(argv[++i]);
      if (!Number.isFinite(v) || v <= 0) throw new Error(`${arg} needs a positive number`);
      return v;
    };
    if (arg === "--quick") Object.assign(out, QUICK);
    else if (arg === "--jobs") out.jobs = Math.round(value());
    else if (arg === "--seconds") out.seconds = value();
    else if (arg === "--drain-timeout") out.drainTimeoutMs = value() * 1000;
    else if (arg === "--pgbouncer") out.pgbouncer = true;
    else throw new Error(`unknown flag ${arg}; use --jobs N, --seconds S, --quick, --drain-timeout S, --pgbouncer`);
  }
  return out;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  let args: ReturnType<typeof parseArgs>;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error(`chaos: ${(error as Error).message}`);
    process.exit(2);
  }
  const databaseUrl = process.env.DATABASE_URL?.trim() || undefined;
  console.log(`chaos: ${args.jobs} jobs, ${args.seconds}s of faults, ${WORKERS} worker processes${args.pgbouncer ? ", behind PgBouncer" : ""}`);
  runChaos({ ...args, databaseUrl }).then(
    (result) => {
      console.log(formatResult(result));
      process.exit(result.ok ? 0 : 1);
    },
    (error) => {
      console.error("chaos: the run itself failed:", error);
      process.exit(1);
    },
  );
}
