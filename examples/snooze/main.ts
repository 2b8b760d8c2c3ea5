// A handler that waits for something outside its control (an export being ready) without
// spending attempts: it returns snooze(delay) until the export is there. A handler that knows
// retrying is pointless throws UnrecoverableError and the job fails at once.
// Run: DATABASE_URL=postgres://… npm run example:snooze
import { Sidetrack, snooze, UnrecoverableError } from "sidetrack";

type Queues = { downloadExport: { exportId: string } };

let checks = 0;
/** Stands in for an external service: the export is ready on the third look; "gone" never exists. */
const exportStatus = (id: string) => (id === "gone" ? "deleted" : ++checks >= 3 ? "ready" : "pending");

const sidetrack = new Sidetrack<Queues>({
  databaseOptions: { connectionString: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres" },
  handleSignals: false,
  pollInterval: 50,
  queues: {
    downloadExport: {
      maxAttempts: 1,
      maxSnoozes: 10,
      handler: async (job) => {
        const status = exportStatus(job.payload.exportId);
        if (status === "deleted") throw new UnrecoverableError(`export ${job.payload.exportId} was deleted`);
        if (status === "pending") return snooze("100ms");
        return { downloaded: job.payload.exportId };
      },
    },
  },
});
sidetrack.on("job:snoozed", (job, delayMs) => console.log(`job ${job.id}: export not ready, snoozed for ${delayMs}ms`));

await sidetrack.start();
const done = (id: string) =>
  new Promise<void>((resolve) => {
    const check = (job: { id: string }) => job.id === id && resolve();
    sidetrack.on("job:completed", check);
    sidetrack.on("job:failed", check);
  });
const ready = await sidetrack.insertJob("downloadExport", { exportId: "e-42" });
const gone = await sidetrack.insertJob("downloadExport", { exportId: "gone" });
await Promise.all([done(ready.id), done(gone.id)]);
const a = (await sidetrack.getJob(ready.id))!;
const b = (await sidetrack.getJob(gone.id))!;
console.log(`job ${a.id}: ${a.status} after ${a.snoozes} snoozes, attempt ${a.attempt} of ${a.maxAttempts}, output ${JSON.stringify(a.output)}`);
console.log(`job ${b.id}: ${b.status}: ${b.errors[0]?.message}`);
await sidetrack.stop();
console.log("example:snooze done");
