// A worker in a process of its own for the flow-control tests. Env: DATABASE_URL, SCHEMA,
// CONCURRENCY, POLL_MS, SLEEP_MS, POLICY (JSON queue options of queue "limited"; queue "free"
// has none). Each handler records its start and end with clock_timestamp() in `runs`, along with
// the job's key and the start time its claim granted, then sleeps SLEEP_MS. Prints "ready".
import pg from "pg";
import { Sidetrack } from "../../runtime/index.js";

const env = process.env;
const sleepMs = Number(env.SLEEP_MS ?? 100);
const records = new pg.Pool({ connectionString: env.DATABASE_URL!, max: 1 });
const table = `"${env.SCHEMA}".runs`;

async function handler(job: { id: string; queue: string; payload: { key?: string }; startedAt: Date | null }): Promise<void> {
  await records.query(`insert into ${table} (job_id, queue, key, granted, started) values ($1, $2, $3, $4, clock_timestamp())`, [
    job.id,
    job.queue,
    job.payload.key ?? null,
    job.startedAt,
  ]);
  await new Promise((resolve) => setTimeout(resolve, sleepMs));
  await records.query(`update ${table} set ended = clock_timestamp() where job_id = $1 and ended is null`, [job.id]);
}

const sidetrack = new Sidetrack<{ limited: { key?: string }; free: { key?: string } }>({
  databaseOptions: { connectionString: env.DATABASE_URL!, max: 3 },
  schema: env.SCHEMA,
  concurrency: Number(env.CONCURRENCY ?? 10),
  pollInterval: Number(env.POLL_MS ?? 100),
  handleSignals: false,
  queues: { limited: { ...JSON.parse(env.POLICY ?? "{}"), handler }, free: { handler } },
});

process.on("SIGTERM", () => void sidetrack.stop().then(() => process.exit(0)));
await sidetrack.start();
console.log("ready");
