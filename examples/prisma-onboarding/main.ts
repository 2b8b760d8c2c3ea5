// The original documentation's scenario through the generated client: a user and their onboarding
// job commit (or roll back) together in a Prisma interactive transaction; a worker welcomes them.
// Run: DATABASE_URL=postgres://… npm run example:prisma
import { PrismaPg } from "@prisma/adapter-pg";
import { runMigrations } from "sidetrack";
import { PrismaClient } from "./generated/client.js";
import { createWorker, insertUserOnboarding } from "./sidetrack/client.js";

const connectionString = process.env.DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/postgres";
await runMigrations({ connectionString });
const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString }) });
// Prisma Migrate needs its engine; the example creates its one table itself.
await prisma.$executeRawUnsafe(`create table if not exists "User" (id serial primary key, email text not null unique)`);

const email = `ada-${Date.now()}@example.com`;
const job = await prisma.$transaction(async (tx) => {
  const user = await tx.user.create({ data: { email } });
  return insertUserOnboarding(tx, { email: user.email }); // rolls back with the user
});
console.log(`created ${email} with onboarding job ${job.id}`);

await prisma
  .$transaction(async (tx) => {
    const user = await tx.user.create({ data: { email: `grace-${Date.now()}@example.com` } });
    await insertUserOnboarding(tx, { email: user.email });
    throw new Error("signup aborted");
  })
  .catch((error: Error) => console.log(`rolled back: ${error.message} (no user, no job)`));

const worker = createWorker({
  connectionString,
  handleSignals: false,
  handlers: { userOnboarding: async (j) => console.log(`Welcome ${j.payload.email}`) },
});
await worker.start();
while ((await worker.getJob(job.id))?.status !== "completed") await new Promise((r) => setTimeout(r, 100));
await worker.stop();
await prisma.$disconnect();
console.log("example:prisma done");
