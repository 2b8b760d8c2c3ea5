// A worker with two declared per-second cron schedules on two queues, in a process of its own.
// Env: DATABASE_URL, SCHEMA. Prints "ready" once started; on SIGTERM stops and prints
// one line of JSON: { ran: { [queue]: count } }.
import { Sidetrack } from "../../runtime/index.js";

const env = process.env;
const ran: Record<string, number> = {};
const count = async (job: { queue: string }) => void (ran[job.queue] = (ran[job.queue] ?? 0) + 1);

const sidetrack = new Sidetrack<{ everySecond: { kind: string }; everySecondBerlin: { kind: string } }>({
  // Small: three of these run at once within one test file's connection budget (test/support/database.ts).
  databaseOptions: { connectionString: env.DATABASE_URL!, max: 3 },
  schema: env.SCHEMA,
  handleSignals: false,
  queues: {
    everySecond: { cron: { schedule: "* * * * * *", payload: { kind: "utc" } }, handler: count },
    everySecondBerlin: { cron: { schedule: "* * * * * *", timezone: "Europe/Berlin", payload: { kind: "berlin" } }, handler: count },
  },
});

process.on("SIGTERM", () => {
  void sidetrack.stop().then(() => {
    console.log(JSON.stringify({ ran }));
    process.exit(0);
  });
});

await sidetrack.start();
console.log("ready");
