// `npm run demo`: the onboarding flow of the original documentation, end to end.
// A user and their welcome job commit together; a second signup fails after inserting its job
// and both roll back. Then the jobs are listed. Uses DATABASE_URL, or an embedded PostgreSQL.
import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { runMigrations, Sidetrack } from "../runtime/index.js";
import { usePrisma } from "../runtime/prisma.js";
import { exitOnEmbeddedError, startEmbeddedPostgres } from "../scripts/embedded-postgres.js";
import { PrismaClient } from "../test/fixtures/prisma/generated/client.js";

type Queues = { userOnboarding: { email: string } };

const embedded = process.env.DATABASE_URL ? undefined : await startEmbeddedPostgres().catch(exitOnEmbeddedError);
const connectionString = process.env.DATABASE_URL ?? embedded!.url;
console.log(embedded ? "Started an embedded PostgreSQL (no DATABASE_URL set)." : "Using DATABASE_URL.");

// A schema of its own, so the demo never touches an application's `sidetrack` schema.
const schema = `sidetrack_demo`;
const admin = new pg.Client({ connectionString });
await admin.connect();
await admin.query(`drop schema if exists ${schema} cascade`);
await admin.query(`create table if not exists "DemoUser" (id serial primary key, email text not null unique)`);
await admin.query(`delete from "DemoUser"`);
await runMigrations({ connectionString, schema });

const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString }) });
const sidetrack = new Sidetrack<Queues>({
  databaseOptions: { connectionString },
  schema,
  handleSignals: false,
  queues: { userOnboarding: { handler: async (job) => console.log(`   Welcome ${job.payload.email}`) } },
});

try {
  const createUser = (tx: Parameters<Parameters<typeof prisma.$transaction>[0]>[0], email: string) =>
    tx.$executeRawUnsafe(`insert into "DemoUser" (email) values ($1)`, email);

  const committed = await prisma.$transaction(async (tx) => {
    await createUser(tx, "ada@example.com");
    return sidetrack.insertJob("userOnboarding", { email: "ada@example.com" }, { dbClient: usePrisma(tx) });
  });
  console.log(`1. committed: user ada@example.com and job ${committed.id}`);

  let rolledBackId = "";
  try {
    await prisma.$transaction(async (tx) => {
      await createUser(tx, "bob@example.com");
      rolledBackId = (await sidetrack.insertJob("userOnboarding", { email: "bob@example.com" }, { dbClient: usePrisma(tx) })).id;
      throw new Error("card declined");
    });
  } catch (error) {
    console.log(`2. rolled back (${(error as Error).message}): user bob@example.com and job ${rolledBackId}`);
  }

  const rolledBack = await sidetrack.getJob(rolledBackId);
  console.log(`3. job ${rolledBackId} after the rollback: ${rolledBack === undefined ? "does not exist" : "EXISTS (bug!)"}`);
  const users = await admin.query<{ email: string }>(`select email from "DemoUser" order by id`);
  console.log(`   users: ${users.rows.map((u) => u.email).join(", ")}`);

  console.log("4. jobs:");
  for (const job of await sidetrack.listJobs()) {
    console.log(`   #${job.id} ${job.queue} ${job.status} ${JSON.stringify(job.payload)}`);
  }
  if (rolledBack !== undefined) process.exitCode = 1;

  console.log("5. a worker runs the committed job:");
  const completed = new Promise<void>((resolve) => sidetrack.on("job:completed", () => resolve()));
  await sidetrack.start();
  await completed;
  await sidetrack.stop();
  const after = new Sidetrack<Queues>({ databaseOptions: { connectionString }, schema, queues: { userOnboarding: {} } });
  console.log(`   job ${committed.id} is now ${(await after.getJob(committed.id))?.status}`);
  await after.close();
} finally {
  await admin.query(`drop schema if exists ${schema} cascade`);
  await admin.query(`drop table if exists "DemoUser"`);
  await admin.end();
  await prisma.$disconnect();
  await sidetrack.close();
  await embedded?.stop();
}
