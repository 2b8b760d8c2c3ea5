// A plain node-postgres app: an invoice row and its job commit (or roll back) together; a worker sends it.
// Run: DATABASE_URL=postgres://… npm run example:pg
import pg from "pg";
import { runMigrations } from "sidetrack";
import { createWorker, transaction } from "./sidetrack/client.js";

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres" });
await runMigrations({ pool });
await pool.query("create table if not exists invoices (id text primary key, amount_cents integer not null)");

const id = `inv-${Date.now()}`;
const job = await transaction(pool, async (client, jobs) => {
  await client.query("insert into invoices (id, amount_cents) values ($1, $2)", [id, 4200]);
  return jobs.sendInvoice.insert({ invoiceId: id, amountCents: 4200 });
});
console.log(`committed invoice ${id} with job ${job.id}`);

await transaction(pool, async (client, jobs) => {
  await client.query("insert into invoices (id, amount_cents) values ($1, $2)", [`${id}-draft`, 1]);
  await jobs.sendInvoice.insert({ invoiceId: `${id}-draft`, amountCents: 1 });
  throw new Error("the draft was abandoned");
}).catch((error: Error) => console.log(`rolled back: ${error.message} (no invoice, no job)`));

const worker = createWorker({
  pool,
  handleSignals: false,
  handlers: { sendInvoice: async (j) => console.log(`sending invoice ${j.payload.invoiceId} for ${j.payload.amountCents} cents`) },
});
await worker.start();
while ((await worker.getJob(job.id))?.status !== "completed") await new Promise((r) => setTimeout(r, 100));
await worker.stop();
await pool.end();
console.log("example:pg done");
