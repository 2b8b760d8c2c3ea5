import { Logger, makeWorkerUtils, run, runMigrations, type WorkerUtils } from "graphile-worker";
import pg from "pg";
import type { Contender } from "../contender.js";
import { handle } from "../workload.js";
import { count } from "./sidetrack.js";

let utils: WorkerUtils | undefined;
// graphile-worker logs every completed job by default; the others are silent, so is it here.
const silent = new Logger(() => () => undefined);

// graphile-worker's own recommendation for throughput: a local queue (batched fetch) and
// batched completion (https://worker.graphile.org/docs/performance).
const fast = (concurrency: number) => ({
  worker: { localQueue: { size: Math.max(500, concurrency * 2) }, completeJobBatchDelay: 0, failJobBatchDelay: 0 },
});

export const graphile: Contender = {
  name: "graphile-worker",
  async reset(url) {
    const client = new pg.Client(url);
    await client.connect();
    await client.query("drop schema if exists graphile_worker cascade");
    await client.end();
    await runMigrations({ connectionString: url, logger: silent });
  },
  async bulkInsert(url, n, payload) {
    const u = await makeWorkerUtils({ connectionString: url, logger: silent });
    await u.addJobs(Array.from({ length: n }, (_, i) => ({ identifier: "bench", payload: payload(i) })));
    await u.release();
  },
  async openInserter(url) {
    utils = await makeWorkerUtils({ connectionString: url, logger: silent });
  },
  async insertOne(i) {
    await utils!.addJob("bench", { i });
  },
  async closeInserter() {
    await utils?.release();
  },
  async startWorker(url, concurrency, onJob, handlerMs) {
    const runner = await run({
      connectionString: url,
      concurrency,
      noHandleSignals: true,
      pollInterval: 1_000,
      taskList: { bench: async (payload) => handle(onJob, (payload as { i: number }).i, handlerMs) },
      preset: fast(concurrency),
      logger: silent,
    });
    return async () => {
      await runner.stop();
    };
  },
  async remaining(url) {
    return count(url, "select count(*)::int as n from graphile_worker._private_jobs");
  },
};
