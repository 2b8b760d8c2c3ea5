import type { Argv, CommandModule } from "yargs";
import { listQueues, setQueuePaused, type QueueInfo } from "../runtime/client/queues.js";
import { connectionOptions, withMigrated, type ConnectionArgs } from "./connection.js";
import { requireKnownQueue } from "./queues.js";
import { out } from "./output.js";
import { formatTable } from "./table.js";

interface ListArgs extends ConnectionArgs {
  json?: boolean;
}
interface OneArgs extends ConnectionArgs {
  queue: string;
  json?: boolean;
}

// The casts below: yargs' types do not model positionals or the camelCase copy of dashed flags.
const one = (y: Argv) =>
  connectionOptions(y)
    .positional("queue", { type: "string", describe: "the queue" })
    .option("json", { type: "boolean", describe: "print the queue as JSON" }) as unknown as Argv<OneArgs>;

const listCommand: CommandModule<object, ListArgs> = {
  command: "list",
  describe: "List queues: pause state, flow-control policy and job counts by state",
  builder: (y: Argv) => connectionOptions(y).option("json", { type: "boolean", describe: "print the queues as JSON" }) as unknown as Argv<ListArgs>,
  handler: async (args) => {
    await withMigrated(args, async (pool, target) => {
      const queues = await listQueues(pool, { schema: target.schema });
      if (args.json) return out(JSON.stringify(queues, null, 2));
      if (queues.length === 0) return out(`no queues in schema "${target.schema}" yet`);
      out(
        formatTable(
          ["queue", "paused", "global", "per key", "rate limit", "scheduled", "running", "retrying", "failed", "completed"],
          queues.map((q) => [
            q.name,
            q.paused ? "yes" : "no",
            q.globalConcurrency === null ? "-" : String(q.globalConcurrency),
            q.concurrencyPerKey === null ? "-" : `${q.concurrencyPerKey} by ${q.concurrencyBy!.join(",")}`,
            q.rateLimit === null ? "-" : `${q.rateLimit.limit}/${q.rateLimit.perMs}ms`,
            ...(["scheduled", "running", "retrying", "failed", "completed"] as const).map((s) => String(q.counts[s] ?? 0)),
          ]),
        ),
      );
    });
  },
};

function pauseCommand(paused: boolean): CommandModule<object, OneArgs> {
  const verb = paused ? "pause" : "resume";
  return {
    command: `${verb} <queue>`,
    describe: paused
      ? "Pause a queue on every worker: no job of it starts once this returns; running jobs finish, inserts still work"
      : "Resume a paused queue and wake the workers",
    builder: one,
    handler: async (args) => {
      await withMigrated(args, async (pool, target) => {
        if (!(await listQueues(pool, { schema: target.schema, queue: args.queue })).some((q) => q.name === args.queue)) {
          await requireKnownQueue(pool, target.schema, args.queue);
        }
        await setQueuePaused(pool, args.queue, paused, { schema: target.schema });
        const [queue] = await listQueues(pool, { schema: target.schema, queue: args.queue });
        if (args.json) return out(JSON.stringify(queue, null, 2));
        out(`queue ${args.queue} ${paused ? "paused" : "resumed"}${paused ? ` (${describeCounts(queue!)})` : ""}`);
      });
    },
  };
}

function describeCounts(q: QueueInfo): string {
  return `${q.counts.running ?? 0} running will finish, ${(q.counts.scheduled ?? 0) + (q.counts.retrying ?? 0)} waiting`;
}

export const queuesCommand: CommandModule = {
  command: "queues",
  describe: "List, pause and resume queues",
  builder: (y: Argv) =>
    y
      .command(listCommand)
      .command(pauseCommand(true))
      .command(pauseCommand(false))
      .demandCommand(1, "name a queues command: list, pause or resume"),
  handler: () => undefined,
};
