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

type LimitedQ = Q & { limited: { i: number } };
/** Jobs of the limited queue inserted beside the burn-down's (they keep its claims busy throughout). */
const LIMITED_JOBS = 20_000;

/**
 * The burn-down of an unlimited queue while the same workers also run a queue with a global
 * concurrency of 2 and a rate limit: the unlimited queue's figure is to compare with the plain
 * row (its claims should not pay for the limited queue's).
 */
export const sidetrackBesideLimited: Contender = {
  ...sidetrack,
  name: "sidetrack (beside a limited queue)",
  burnDownOnly: true,
  async bulkInsert(url, n, payload) {
    const s = new Sidetrack<LimitedQ>({ databaseUrl: url, queues: { bench: {}, limited: {} } });
    await s.insertJobs("bench", Array.from({ length: n }, (_, i) => payload(i)));
    await s.insertJobs("limited", Array.from({ length: LIMITED_JOBS }, (_, i) => ({ i })));
    await s.close();
  },
  async startWorker(url, concurrency, onJob, handlerMs) {
    const s = new Sidetrack<LimitedQ>({
      databaseUrl: url,
      concurrency,
      handleSignals: false,
      retention: false,
      pollInterval: 50,
      queues: {
        bench: { handler: (job) => handle(onJob, job.payload.i, handlerMs) },
        limited: { globalConcurrency: 2, rateLimit: { limit: 1000, per: "1s" }, handler: () => undefined },
      },
    });
    await s.start();
    return () => s.stop({ grace: 5_000 });
  },
  async remaining(url) {
    return count(
      url,
      "select ((select count(*) from sidetrack.jobs where queue = 'bench' and status in ('scheduled', 'retrying')) + (select count(*) from sidetrack.jobs where queue = 'bench' and status = 'running'))::int as n",
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
