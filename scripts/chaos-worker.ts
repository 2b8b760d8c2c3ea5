// One worker process of the chaos run (scripts/chaos.ts starts three and SIGKILLs them at random).
// Env: DATABASE_URL (carrying application_name=<worker id>, so the driver can find and terminate
// this process's connections), WORKER_ID, SCHEMA, LEASE_MS, CONCURRENCY; behind PgBouncer also
// PREPARED=false (no named statements), LISTEN_URL (a direct connection for LISTEN and the
// liveness lock, which a transaction-mode pooler cannot carry) and RECORD_URL (direct, for the
// run records: the observer should not share the fault it observes).
// Every handler run is recorded in chaos.runs *before* the handler resolves, on a plain
// autocommit pool: a run whose completion is later lost (the process is killed, its
// connections terminated, PostgreSQL restarted) stays visible, and the driver must explain it.
// Prints "ready" once started; on SIGTERM stops gracefully and prints "stopped".
import pg from "pg";
import { Sidetrack, type Logger } from "../runtime/index.js";

const env = process.env;
const workerId = env.WORKER_ID ?? `chaos-${process.pid}`;
const schema = env.SCHEMA ?? "sidetrack";
const leaseMs = Number(env.LEASE_MS ?? 2_000);

const runs = new pg.Pool({ connectionString: env.RECORD_URL ?? env.DATABASE_URL, max: 4 });
runs.on("error", () => undefined);

// Errors are expected here (that is the point); the driver counts these lines and prints the
// tail of a worker's log only when something goes wrong.
const write = (level: string) => (message: string) => process.stderr.write(`${level} ${message}\n`);
const logger: Logger = { debug: () => undefined, info: () => undefined, warn: write("warn"), error: write("error") };

type Queues = { chaos: { m: string }; chaosLimited: { m: string }; chaosPaused: { m: string } };

async function handler(job: { id: string; attempt: number; payload: { m: string } }): Promise<void> {
  await runs.query("insert into chaos.runs (job_id, marker, attempt, worker) values ($1, $2, $3, $4)", [
    job.id,
    job.payload.m,
    job.attempt,
    workerId,
  ]);
  // A little asynchronous work, so that a kill usually finds jobs mid-handler.
  await new Promise((resolve) => setTimeout(resolve, Math.floor(Math.random() * 4)));
}

const sidetrack = new Sidetrack<Queues>({
  databaseOptions: { connectionString: env.DATABASE_URL, max: 6 },
  preparedStatements: env.PREPARED !== "false",
  listenConnectionString: env.LISTEN_URL,
  schema,
  workerId,
  concurrency: Number(env.CONCURRENCY ?? 16),
  leaseDuration: leaseMs,
  pollInterval: 500,
  rescueInterval: 500,
  shutdownGrace: 5_000,
  retention: false,
  handleSignals: false,
  logger,
  queues: {
    // Beside the main queue: one limited across the workers, one the driver pauses and resumes.
    chaosLimited: { globalConcurrency: 3, backoff: { base: 50, max: 1_000 }, handler },
    chaosPaused: { backoff: { base: 50, max: 1_000 }, handler },
    chaos: {
      // Keep retries of attempts failed by a dropped connection quick, so the run drains soon after the faults.
      backoff: { base: 50, max: 1_000 },
      handler,
    },
  },
});

process.on("SIGTERM", () => {
  void sidetrack
    .stop()
    .then(() => runs.end())
    .then(() => {
      console.log("stopped");
      process.exit(0);
    });
});

// PostgreSQL may be restarting while this process starts: keep trying.
for (let attempt = 1; ; attempt++) {
  try {
    await sidetrack.start();
    break;
  } catch (error) {
    logger.error(`start attempt ${attempt} failed: ${(error as Error)?.message}`);
    await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 100 * attempt)));
  }
}
console.log("ready");
