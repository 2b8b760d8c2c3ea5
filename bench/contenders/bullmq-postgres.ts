import { createRequire } from "node:module";
import { Queue, Worker } from "bullmq";
import pg from "pg";
import type { Contender } from "../contender.js";
import { handle } from "../workload.js";

// BullMQ 6's PostgreSQL backend. Its ES-module build imports its own files without extensions,
// which plain Node cannot resolve, so it is loaded from the CommonJS build (the same code).
const require = createRequire(import.meta.url);
// Typed loosely: the bench only hands it to Queue and Worker.
const { createPostgresBackend } = require("bullmq/dist/cjs/postgres/index.js") as { createPostgresBackend: never };
const SCHEMA = "bullmq_bench";
const connectionOf = (url: string) => ({ connectionString: url, schema: SCHEMA, migrate: true, max: 4 });
let queue: Queue | undefined;

export const bullmqPostgres: Contender = {
  name: "bullmq (PostgreSQL)",
  async reset(url) {
    const client = new pg.Client(url);
    await client.connect();
    await client.query(`drop schema if exists ${SCHEMA} cascade`);
    await client.end();
    const q = new Queue("bench", { connection: connectionOf(url) as never }, createPostgresBackend);
    await q.waitUntilReady();
    await q.close();
  },
  async bulkInsert(url, n, payload) {
    const q = new Queue("bench", { connection: connectionOf(url) as never }, createPostgresBackend);
    const chunk = 10_000;
    for (let start = 0; start < n; start += chunk) {
      await q.addBulk(Array.from({ length: Math.min(chunk, n - start) }, (_, k) => ({ name: "bench", data: payload(start + k), opts: { removeOnComplete: true } })));
    }
    await q.close();
  },
  async openInserter(url) {
    queue = new Queue("bench", { connection: connectionOf(url) as never }, createPostgresBackend);
  },
  async insertOne(i) {
    await queue!.add("bench", { i }, { removeOnComplete: true });
  },
  async closeInserter() {
    await queue?.close();
  },
  async startWorker(url, concurrency, onJob, handlerMs) {
    const worker = new Worker("bench", async (job) => handle(onJob, (job.data as { i: number }).i, handlerMs), { connection: connectionOf(url) as never, concurrency }, createPostgresBackend);
    await worker.waitUntilReady();
    return () => worker.close();
  },
  async remaining(url) {
    const q = new Queue("bench", { connection: connectionOf(url) as never }, createPostgresBackend);
    try {
      const counts = await q.getJobCounts("wait", "active", "delayed", "prioritized");
      return Object.values(counts).reduce((a, b) => a + b, 0);
    } finally {
      await q.close();
    }
  },
};
