// A handler's result stored as the job's output, its progress reported on the way, and both read
// back through the generated, typed getJob. Run: DATABASE_URL=postgres://… npm run example:output
import pg from "pg";
import { runMigrations } from "sidetrack";
import { createWorker, getJob, insertThumbnail } from "./sidetrack/client.js";

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres" });
await runMigrations({ pool });

const worker = createWorker({
  pool,
  handleSignals: false,
  handlers: {
    thumbnail: async (job, { progress }) => {
      progress({ step: "decoding" });
      progress({ step: "resizing", width: job.payload.width });
      // The return type is checked against the declaration: { url: string; bytes: number }.
      return { url: `https://cdn.example.com/${job.payload.imageId}-${job.payload.width}.webp`, bytes: 18_432 };
    },
  },
});
const inserted = await insertThumbnail(pool, { imageId: "cat", width: 320 }, { tags: ["example"], meta: { requestedBy: "example:output" } });
await worker.start();
let job = await getJob(pool, "thumbnail", inserted.id);
while (job?.status !== "completed") {
  await new Promise((r) => setTimeout(r, 50));
  job = await getJob(pool, "thumbnail", inserted.id);
}
await worker.stop();
// `job.output` is typed { url: string; bytes: number } | null.
console.log(`job ${job.id} output: ${job.output?.url} (${job.output?.bytes} bytes)`);
console.log(`last progress: ${JSON.stringify(job.progress)}; tags: ${job.tags.join(", ")}`);
await pool.end();
console.log("example:output done");
