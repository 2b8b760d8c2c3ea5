// A worker in a process of its own that records what its handlers do, for the liveness tests.
// Env: DATABASE_URL (its pool; may go through PgBouncer), RECORD_URL (direct, for the records;
// default DATABASE_URL), SCHEMA, WORKER_ID, CONCURRENCY, LEASE_MS, LISTEN ("false": poll-only),
// LISTEN_URL (listenConnectionString), PREPARED ("false": no named statements).
// Each handler inserts rows into <schema>.runs (job_id, worker, attempt, event, at) with
// clock_timestamp(): "start", then "end" or, when aborted first, "aborted". A job's payload says
// how long its first attempt sleeps and whether that attempt stops when aborted; later attempts
// take 10 ms. Prints "ready" once started; SIGTERM stops it gracefully.
import pg from "pg";
import { Sidetrack } from "../../runtime/index.js";

export type RecordedPayload = { firstSleepMs: number; honorAbort: boolean };

const env = process.env;
const schema = env.SCHEMA!;
const workerId = env.WORKER_ID!;
const records = new pg.Pool({ connectionString: env.RECORD_URL ?? env.DATABASE_URL, max: 1 });
const record = (jobId: string, attempt: number, event: string) =>
  records.query(`insert into "${schema}".runs (job_id, worker, attempt, event, at) values ($1, $2, $3, $4, clock_timestamp())`, [
    jobId,
    workerId,
    attempt,
    event,
  ]);

const sidetrack = new Sidetrack<{ work: RecordedPayload }>({
  // Small: several of these run at once within one test file's connection budget.
  databaseOptions: { connectionString: env.DATABASE_URL!, max: 2 },
  schema,
  workerId,
  concurrency: Number(env.CONCURRENCY ?? 10),
  leaseDuration: Number(env.LEASE_MS ?? 30_000),
  preparedStatements: env.PREPARED !== "false",
  listen: env.LISTEN !== "false",
  listenConnectionString: env.LISTEN_URL,
  handleSignals: false,
  retention: false,
  // Info lines on stdout, so a test can read what the worker says about itself.
  logger: {
    debug: () => undefined,
    info: (message) => console.log(`info: ${message}`),
    warn: (message) => console.log(`warn: ${message}`),
    error: (message) => console.error(`error: ${message}`),
  },
  queues: {
    work: {
      handler: async (job, { signal }) => {
        await record(job.id, job.attempt, "start");
        const ms = job.attempt === 1 ? job.payload.firstSleepMs : 10;
        const aborted = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), ms);
          if (job.attempt === 1 && job.payload.honorAbort) {
            signal.addEventListener("abort", () => {
              clearTimeout(timer);
              resolve(true);
            });
          }
        });
        await record(job.id, job.attempt, aborted ? "aborted" : "end");
      },
    },
  },
});

process.on("SIGTERM", () => {
  void sidetrack.stop().then(async () => {
    await records.end();
    process.exit(0);
  });
});

await sidetrack.start();
console.log("ready");
