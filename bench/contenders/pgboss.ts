import PgBoss from "pg-boss";
import pg from "pg";
import type { Contender } from "../contender.js";
import { handle } from "../workload.js";
import { count } from "./sidetrack.js";

let boss: PgBoss | undefined;

async function open(url: string): Promise<PgBoss> {
  const b = new PgBoss({ connectionString: url, schema: "pgboss", supervise: false, schedule: false });
  b.on("error", () => undefined);
  await b.start();
  return b;
}

export const pgboss: Contender = {
  name: "pg-boss",
  async reset(url) {
    const client = new pg.Client(url);
    await client.connect();
    await client.query("drop schema if exists pgboss cascade");
    await client.end();
    const b = await open(url);
    await b.createQueue("bench");
    await b.stop({ graceful: false, wait: true });
  },
  async bulkInsert(url, n, payload) {
    const b = await open(url);
    await b.insert(Array.from({ length: n }, (_, i) => ({ name: "bench", data: payload(i) })));
    await b.stop({ graceful: false, wait: true });
  },
  async openInserter(url) {
    boss = await open(url);
  },
  async insertOne(i) {
    await boss!.send("bench", { i });
  },
  async closeInserter() {
    await boss?.stop({ graceful: false, wait: true });
  },
  async startWorker(url, concurrency, onJob, handlerMs) {
    const b = await open(url);
    // pg-boss 10 fetches in batches (one handler call receives up to batchSize jobs) and waits
    // out its polling interval (0.5 s at least) after each batch, so throughput is batchSize per
    // half second per worker: we give it a batch as large as graphile-worker's local queue.
    await b.work<{ i: number }>("bench", { batchSize: Math.max(500, concurrency * 2), pollingIntervalSeconds: 0.5 }, async (jobs) => {
      // One handler call gets the whole batch: its jobs run side by side, as its concurrency would.
      await Promise.all(jobs.map((job) => handle(onJob, job.data.i, handlerMs)));
    });
    return () => b.stop({ graceful: true, wait: true });
  },
  async remaining(url) {
    return count(url, "select count(*)::int as n from pgboss.job where state <> 'completed'");
  },
};
