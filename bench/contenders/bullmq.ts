import { Queue, Worker } from "bullmq";
import type { Contender } from "../contender.js";
import { handle } from "../workload.js";

// BullMQ runs on Redis, not PostgreSQL: the non-PostgreSQL choice users weigh us against.
const connection = { host: "127.0.0.1", port: 6379, maxRetriesPerRequest: null };
let queue: Queue | undefined;

export const bullmq: Contender = {
  name: "bullmq (Redis)",
  async reset() {
    const q = new Queue("bench", { connection });
    await q.obliterate({ force: true });
    await q.close();
  },
  async bulkInsert(_url, n, payload) {
    const q = new Queue("bench", { connection });
    const chunk = 10_000; // addBulk of 200k in one call exceeds what ioredis pipelines comfortably
    for (let start = 0; start < n; start += chunk) {
      await q.addBulk(Array.from({ length: Math.min(chunk, n - start) }, (_, k) => ({ name: "bench", data: payload(start + k), opts: { removeOnComplete: true } })));
    }
    await q.close();
  },
  async openInserter() {
    queue = new Queue("bench", { connection });
  },
  async insertOne(i) {
    await queue!.add("bench", { i }, { removeOnComplete: true });
  },
  async closeInserter() {
    await queue?.close();
  },
  async startWorker(_url, concurrency, onJob, handlerMs) {
    const worker = new Worker("bench", async (job) => handle(onJob, (job.data as { i: number }).i, handlerMs), { connection, concurrency });
    await worker.waitUntilReady();
    return () => worker.close();
  },
  async remaining() {
    const q = new Queue("bench", { connection });
    const counts = await q.getJobCounts("wait", "active", "delayed", "prioritized");
    await q.close();
    return Object.values(counts).reduce((a, b) => a + b, 0);
  },
};

export async function redisAnswers(): Promise<boolean> {
  const { createConnection } = await import("node:net");
  return new Promise((resolve) => {
    const socket = createConnection({ host: "127.0.0.1", port: 6379 });
    socket.setTimeout(500);
    socket.once("connect", () => (socket.end(), resolve(true)));
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => (socket.destroy(), resolve(false)));
  });
}
