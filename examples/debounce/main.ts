// Debounce and throttle with unique keys: many inserts, one job each.
// Run: DATABASE_URL=postgres://… npm run example:debounce
import pg from "pg";
import { runMigrations } from "sidetrack";
import { createWorker, insertReindexDocument, insertSendDigest } from "./sidetrack/client.js";

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres" });
await runMigrations({ pool });

// Five quick edits of one document: each insert replaces the waiting job (payload and run_at).
let reindex = await insertReindexDocument(pool, { documentId: "doc-1", revision: 1 }, { delay: "200ms" });
for (let revision = 2; revision <= 5; revision++) {
  reindex = await insertReindexDocument(pool, { documentId: "doc-1", revision }, { delay: "200ms" });
}
console.log(`reindex job ${reindex.id}: revision ${reindex.payload.revision}, duplicate ${reindex.duplicate}, updated ${reindex.updated}`);

// Three digest requests: the first inserts, the others find the key held.
const digests = [];
for (let i = 0; i < 3; i++) digests.push(await insertSendDigest(pool, { userId: "u-1" }));
console.log(`digest requests: ${digests.map((d) => (d.duplicate ? "throttled" : `job ${d.id}`)).join(", ")}`);

const reindexed: number[] = [];
let digestsSent = 0;
const worker = createWorker({
  pool,
  handleSignals: false,
  pollInterval: 50,
  handlers: {
    reindexDocument: async (job) => void reindexed.push(job.payload.revision),
    sendDigest: async () => void digestsSent++,
  },
});
await worker.start();
while ((await worker.getJob(reindex.id))?.status !== "completed" || (await worker.getJob(digests[0]!.id))?.status !== "completed") {
  await new Promise((r) => setTimeout(r, 50));
}
// The digest job is done, but its key is held for the hour: another request is still throttled.
const again = await insertSendDigest(pool, { userId: "u-1" });
await worker.stop();
console.log(`reindexed revisions: ${reindexed.join(", ")}; digests sent: ${digestsSent}; a request after it ran: ${again.duplicate ? "throttled" : "inserted"}`);
await pool.end();
console.log("example:debounce done");
