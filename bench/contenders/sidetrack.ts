import pg from "pg";
// The built package, as an application runs it (the other queues also run their compiled JS).
import { runMigrations, Sidetrack } from "../../dist/runtime/index.js";
import type { Contender } from "../contender.js";

import { handle, type JobPayload } from "../workload.js";

type Q = { bench: JobPayload };
let inserter: Sidetrack<Q> | undefined;

export const sidetrack: Contender = {
  name: "sidetrack",
  async reset(url) {
    const client = new pg.Client(url);
    await client.connect();
    await client.query("drop schema if exists sidetrack cascade");
    await client.end();
    await runMigrations({ connectionString: url });
  },
  async bulkInsert(url, n, payload) {
    const s = new Sidetrack<Q>({ databaseUrl: url, queues: { bench: {} } });
    await s.insertJobs("bench", Array.from({ length: n }, (_, i) => payload(i)));
    await s.close();
  },
  async openInserter(url) {
    inserter = new Sidetrack<Q>({ databaseUrl: url, queues: { bench: {} } });
  },
  async insertOne(i) {
    await inserter!.insertJob("bench", { i });
  },
  async closeInserter() {
    await inserter?.close();
  },
  async startWorker(url, concurrency, onJob, handlerMs) {
    const s = new Sidetrack<Q>({
      databaseUrl: url,
      concurrency,
      handleSignals: false,
      retention: false,
      queues: { bench: { handler: (job) => handle(onJob, job.payload.i, handlerMs) } },
    });
    await s.start();
    return () => s.stop({ grace: 5_000 });
  },
  async remaining(url) {
    // Through the partial indexes of unfinished jobs, as an operator would count them: a
    // `status <> 'completed'` scan reads every row version in the table (three per job by
    // the end) and, polled every 20 ms near the end, took CPU from the workers it measures.
    return count(
      url,
      "select ((select count(*) from sidetrack.jobs where status in ('scheduled', 'retrying')) + (select count(*) from sidetrack.jobs where status = 'running'))::int as n",
    );
  },
};

export async function count(url: string, sql: string): Promise<number> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    return (await client.query<{ n: number }>(sql)).rows[0]!.n;
  } finally {
    await client.end();
  }
}
