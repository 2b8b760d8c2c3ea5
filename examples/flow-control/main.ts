// Flow control across workers: per-key and global concurrency, a rate limit, pause and resume.
// Run: DATABASE_URL=postgres://… npm run example:flow
import pg from "pg";
import { runMigrations } from "sidetrack";
import { createWorker, insertManyCallPartner, insertManySyncTenant } from "./sidetrack/client.js";

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres" });
await runMigrations({ pool });

// What the handlers saw: how many ran at once, per tenant and overall, and when each call was
// let start (its startedAt: the time its claim took it, which the rate limit counts).
let running = 0;
let mostAtOnce = 0;
const perTenant = new Map<string, number>();
let mostPerTenant = 0;
const calls: number[] = [];
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Two workers in one process stand in for two machines: the limits hold across both.
const workers = [1, 2].map(() =>
  createWorker({
    pool,
    handleSignals: false,
    pollInterval: "100ms",
    handlers: {
      syncTenant: async (job) => {
        const tenant = job.payload.tenantId;
        running++;
        perTenant.set(tenant, (perTenant.get(tenant) ?? 0) + 1);
        mostAtOnce = Math.max(mostAtOnce, running);
        mostPerTenant = Math.max(mostPerTenant, perTenant.get(tenant)!);
        await sleep(50);
        running--;
        perTenant.set(tenant, perTenant.get(tenant)! - 1);
      },
      callPartner: async (job) => void calls.push(job.startedAt!.getTime()),
    },
  }),
);
for (const worker of workers) await worker.start();
const [admin] = workers;

await insertManySyncTenant(pool, Array.from({ length: 24 }, (_, n) => ({ tenantId: `tenant-${n % 6}`, n })));
await admin!.pauseQueue("callPartner");
await insertManyCallPartner(pool, Array.from({ length: 10 }, (_, n) => ({ n })));
const done = async (queue: "syncTenant" | "callPartner") => (await admin!.listQueues()).find((q) => q.name === queue)?.counts.completed ?? 0;
while ((await done("syncTenant")) < 24) await sleep(100);
console.log(`syncTenant: at most ${mostAtOnce} at once (globalConcurrency 4), ${mostPerTenant} per tenant (concurrencyBy tenantId)`);
console.log(`callPartner while paused: ${calls.length} calls`);

await admin!.resumeQueue("callPartner");
while ((await done("callPartner")) < 10) await sleep(100);
const inFirstSecond = calls.filter((t) => t < calls[0]! + 1000).length;
console.log(`callPartner resumed: 10 calls, ${inFirstSecond} in the first second (rateLimit 5 per 1s)`);

for (const worker of workers) await worker.stop();
await pool.end();
console.log("example:flow done");
