// A worker in a process of its own, for tests that kill or signal real processes.
// Env: DATABASE_URL, SCHEMA, MODE ("count" | "hang" | "record"), CONCURRENCY, LEASE_MS, POLL_MS,
// GRACE_MS, PREFETCH ("auto" or a number), SLEEP_MS and WORKER_NAME (MODE "record": each run
// sleeps SLEEP_MS and writes its start and end, by clock_timestamp(), to <schema>.runs).
// Prints "ready" once started and "started <id>" when a job starts. On SIGTERM it stops
// gracefully and prints one line of JSON: { runs: { [jobId]: count } }.
import pg from "pg";
import { Sidetrack } from "../../runtime/index.js";

const env = process.env;
const runs: Record<string, number> = {};
const mode = env.MODE ?? "count";
const recorder = mode === "record" ? new pg.Pool({ connectionString: env.DATABASE_URL!, max: 2 }) : undefined;
recorder?.on("error", () => undefined);

const sidetrack = new Sidetrack<{ work: { n: number } }>({
  // Small: three of these run at once within one test file's connection budget (test/support/database.ts).
  databaseOptions: { connectionString: env.DATABASE_URL!, max: 3 },
  schema: env.SCHEMA,
  concurrency: Number(env.CONCURRENCY ?? 10),
  leaseDuration: Number(env.LEASE_MS ?? 30_000),
  pollInterval: Number(env.POLL_MS ?? 1_000),
  rescueInterval: Number(env.POLL_MS ?? 1_000),
  shutdownGrace: Number(env.GRACE_MS ?? 10_000),
  ...(env.PREFETCH === undefined ? {} : { prefetch: env.PREFETCH === "auto" ? "auto" : Number(env.PREFETCH) }),
  handleSignals: false,
  queues: {
    work: {
      handler: async (job) => {
        runs[job.id] = (runs[job.id] ?? 0) + 1;
        if (mode === "record") {
          const { rows } = await recorder!.query<{ run: string }>(
            `insert into ${env.SCHEMA}.runs (job_id, worker, started_at) values ($1, $2, clock_timestamp()) returning id::text as run`,
            [job.id, env.WORKER_NAME ?? String(process.pid)],
          );
          await new Promise((resolve) => setTimeout(resolve, Number(env.SLEEP_MS ?? 0)));
          await recorder!.query(`update ${env.SCHEMA}.runs set finished_at = clock_timestamp() where id = $1`, [rows[0]!.run]);
        }
        if (mode === "hang") {
          console.log(`started ${job.id}`);
          await new Promise(() => undefined);
        }
      },
    },
  },
});

process.on("SIGTERM", () => {
  void sidetrack.stop().then(() => {
    console.log(JSON.stringify({ runs }));
    process.exit(0);
  });
});

await sidetrack.start();
console.log("ready");
