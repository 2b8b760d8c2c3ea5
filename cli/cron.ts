import type { Argv, CommandModule } from "yargs";
import type pg from "pg";
import { usePg } from "../runtime/db/clients.js";
import { activateSchedule, deactivateSchedule, listSchedules, runScheduleNow } from "../runtime/cron/schedules.js";
import type { CronSchedule } from "../runtime/index.js";
import { connectionOptions, withMigrated, type ConnectionArgs, type Target } from "./connection.js";
import { CliError, UsageError } from "./errors.js";
import { out } from "./output.js";
import { formatTable } from "./table.js";

interface ListArgs extends ConnectionArgs {
  queue?: string;
  json?: boolean;
}
interface OneArgs extends ConnectionArgs {
  queue: string;
  expression?: string;
  json?: boolean;
}

// The casts below: yargs' types do not model positionals or the camelCase copy of dashed flags.
const one = (y: Argv) =>
  connectionOptions(y)
    .positional("queue", { type: "string", describe: "the schedule's queue" })
    .positional("expression", { type: "string", describe: "its cron expression (needed only when the queue has several schedules)" })
    .option("json", { type: "boolean", describe: "print the result as JSON" }) as unknown as Argv<OneArgs>;

const listCommand: CommandModule<object, ListArgs> = {
  command: "list",
  describe: "List cron schedules, active or not",
  builder: (y: Argv) =>
    connectionOptions(y)
      .option("queue", { type: "string", describe: "only this queue's schedules" })
      .option("json", { type: "boolean", describe: "print the schedules as JSON" }) as unknown as Argv<ListArgs>,
  handler: async (args) => {
    await withMigrated(args, async (pool, target) => {
      const schedules = await listSchedules(usePg(pool), target.schema, args.queue);
      if (args.json) return out(JSON.stringify(schedules, null, 2));
      if (schedules.length === 0) return out(args.queue ? `no cron schedule for queue "${args.queue}"` : "no cron schedules");
      out(
        formatTable(
          ["queue", "expression", "timezone", "source", "active", "next run", "last run"],
          schedules.map((s) => [
            s.queue,
            s.expression,
            s.timezone,
            s.source,
            s.active ? "yes" : "no",
            s.active ? s.nextRunAt.toISOString() : "-",
            s.lastRunAt?.toISOString() ?? "-",
          ]),
        ),
      );
    });
  },
};

const activateCommand: CommandModule<object, OneArgs> = {
  command: "activate <queue> [expression]",
  describe: "Activate a schedule again: it fires from its next tick (missed ticks are not fired)",
  builder: one,
  handler: async (args) => {
    await withMigrated(args, async (pool, target) => {
      const schedule = await findSchedule(pool, target, args, "activate");
      const activated = (await activateSchedule(usePg(pool), target.schema, schedule.queue, schedule.expression))!;
      if (args.json) return out(JSON.stringify(activated, null, 2));
      out(`cron ${label(activated)} activated; next run ${activated.nextRunAt.toISOString()}`);
    });
  },
};

const deactivateCommand: CommandModule<object, OneArgs> = {
  command: "deactivate <queue> [expression]",
  describe: "Deactivate a schedule: no worker fires it until it is activated again, across restarts",
  builder: one,
  handler: async (args) => {
    await withMigrated(args, async (pool, target) => {
      const schedule = await findSchedule(pool, target, args, "deactivate");
      await deactivateSchedule(usePg(pool), target.schema, schedule.queue, schedule.expression);
      if (args.json) return out(JSON.stringify({ ...schedule, active: false }, null, 2));
      out(`cron ${label(schedule)} deactivated`);
    });
  },
};

const runNowCommand: CommandModule<object, OneArgs> = {
  command: "run-now <queue> [expression]",
  describe: "Insert one job of a schedule now, with its payload; its own ticks are unchanged",
  builder: one,
  handler: async (args) => {
    await withMigrated(args, async (pool, target) => {
      const schedule = await findSchedule(pool, target, args, "run-now");
      const job = await runScheduleNow(usePg(pool), target.schema, schedule);
      if (args.json) return out(JSON.stringify(job, null, 2));
      out(`job ${job.id} inserted for cron ${label(schedule)}, to run now`);
    });
  },
};

export const cronCommand: CommandModule = {
  command: "cron",
  describe: "List, activate, deactivate and run cron schedules",
  builder: (y: Argv) =>
    y
      .command(listCommand)
      .command(activateCommand)
      .command(deactivateCommand)
      .command(runNowCommand)
      .demandCommand(1, "name a cron command: list, activate, deactivate or run-now"),
  handler: () => undefined,
};

function label(s: CronSchedule): string {
  return `${s.queue} "${s.expression}"`;
}

/** The schedule named by queue (and expression, when the queue has several), or an error listing what there is. */
async function findSchedule(pool: pg.Pool, target: Target, args: OneArgs, command: string): Promise<CronSchedule> {
  const schedules = await listSchedules(usePg(pool), target.schema, args.queue);
  if (schedules.length === 0) {
    const all = await listSchedules(usePg(pool), target.schema);
    const queues = [...new Set(all.map((s) => s.queue))];
    throw new CliError(
      `no cron schedule for queue "${args.queue}" in schema "${target.schema}"`,
      queues.length > 0 ? `queues with schedules: ${queues.join(", ")}` : "no queue has a schedule yet; check the name, --schema and --database-url",
    );
  }
  if (args.expression === undefined) {
    if (schedules.length === 1) return schedules[0]!;
    throw new UsageError(
      `queue "${args.queue}" has ${schedules.length} cron schedules: name one`,
      `e.g. sidetrack cron ${command} ${args.queue} "${schedules[0]!.expression}"; its schedules: ${schedules.map((s) => `"${s.expression}"`).join(", ")}`,
    );
  }
  const wanted = args.expression.trim().split(/\s+/).join(" ");
  const found = schedules.find((s) => s.expression === wanted);
  if (!found) {
    throw new CliError(
      `queue "${args.queue}" has no cron schedule "${wanted}"`,
      `its schedules: ${schedules.map((s) => `"${s.expression}"`).join(", ")}`,
    );
  }
  return found;
}
