// A worker in a process of its own, for tests that kill or signal real processes.
// Env: DATABASE_URL, SCHEMA, MODE ("count" | "hang"), CONCURRENCY, LEASE_MS, POLL_MS, GRACE_MS.
// Prints "ready" once started and "started <id>" when a job starts. On SIGTERM it stops
// gracefully and prints one line of JSON: { runs: { [jobId]: count } }.
import { Sidetrack } from "../../runtime/index.js";

const env = process.env;
const runs: Record<string, number> = {};
const mode = env.MODE ?? "count";

const sidetrack = new Sidetrack<{ work: { n: number } }>({
  // Small: three of these run at once within one test file's connection budget (test/support/database.ts).
  databaseOptions: { connectionString: env.DATABASE_URL!, max: 3 },
  schema: env.SCHEMA,
  concurrency: Number(env.CONCURRENCY ?? 10),
  leaseDuration: Number(env.LEASE_MS ?? 30_000),
  pollInterval: Number(env.POLL_MS ?? 1_000),
  rescueInterval: Number(env.POLL_MS ?? 1_000),
  shutdownGrace: Number(env.GRACE_MS ?? 10_000),
  handleSignals: false,
  queues: {
    work: {
      handler: async (job) => {
        runs[job.id] = (runs[job.id] ?? 0) + 1;
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
