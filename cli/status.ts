import type { Argv, CommandModule } from "yargs";
import { queueStatus, type QueueStatus } from "../runtime/index.js";
import { connectionOptions, requireMigrated, resolveTarget, withDatabase, type ConnectionArgs } from "./connection.js";
import { toCliError, UsageError } from "./errors.js";
import { durationFlag } from "./flags.js";
import { out } from "./output.js";
import { requireKnownQueue } from "./queues.js";
import { untilSignal } from "./signals.js";
import { formatAge, formatTable } from "./table.js";

interface StatusArgs extends ConnectionArgs {
  queue?: string;
  json?: boolean;
  watch?: boolean;
  interval: string;
  completedWindow: string;
}

export const statusCommand: CommandModule<object, StatusArgs> = {
  command: "status",
  describe: "Job counts per queue and the age of the oldest ready job",
  // The cast: yargs' types do not model the camelCase copy of a dashed flag.
  builder: (y: Argv) =>
    connectionOptions(y)
      .option("queue", { type: "string", describe: "only this queue" })
      .option("json", { type: "boolean", describe: "print JSON (one object per refresh with --watch)" })
      .option("watch", { type: "boolean", describe: "refresh until Ctrl-C" })
      .option("interval", { type: "string", default: "2s", describe: "refresh interval with --watch" })
      .option("completed-window", { type: "string", default: "24h", describe: "count completed jobs finished within this long" })
      .example("$0 status", "a table of every queue")
      .example("$0 status --watch --interval 1s", "a live view")
      .example("$0 status --json | jq '.queues[] | select(.failed > 0)'", "for scripts and monitoring") as unknown as Argv<StatusArgs>,
  handler: async (args) => {
    const intervalMs = durationFlag(args.interval, "--interval");
    if (intervalMs < 100) throw new UsageError("--interval must be at least 100ms");
    const windowMs = durationFlag(args.completedWindow, "--completed-window");
    const target = resolveTarget(args);
    await withDatabase(target, async (pool) => {
      await requireMigrated(pool, target.schema);
      const known = args.queue === undefined ? undefined : await requireKnownQueue(pool, target.schema, args.queue);
      if (known === "declared, no jobs yet" && !args.json && !args.watch) {
        out(`schema "${target.schema}" · queue "${args.queue}": declared, no jobs yet`);
        return;
      }
      const read = async () => ({
        at: new Date(),
        queues: await queueStatus(pool, { schema: target.schema, queue: args.queue, completedWithinMs: windowMs }),
      });
      const render = (snapshot: Snapshot) =>
        args.json ? JSON.stringify(toJson(snapshot, target.schema, windowMs)) : formatStatus(snapshot, target.schema, args.completedWindow);

      if (!args.watch) {
        const snapshot = await read();
        out(args.json ? JSON.stringify(toJson(snapshot, target.schema, windowMs), null, 2) : render(snapshot));
        return;
      }
      // --watch: redraw in place on a terminal; elsewhere (pipe, CI log) append frames.
      const stop = untilSignal();
      const inPlace = process.stdout.isTTY && !args.json;
      try {
        while (!stop.stopped) {
          let frame: string;
          try {
            frame = render(await read());
          } catch (error) {
            // A blip (restart, failover) must not end the live view: say so and keep refreshing.
            frame = `${new Date().toISOString()} error: ${toCliError(error, target.endpoint, target.schema).message} (retrying)`;
          }
          if (inPlace) process.stdout.write("\x1b[H\x1b[2J");
          out(inPlace ? `${frame}\n\nevery ${args.interval} · Ctrl-C to stop` : args.json ? frame : `${frame}\n`);
          await stop.sleep(intervalMs);
        }
      } finally {
        stop.dispose();
      }
    });
  },
};

interface Snapshot {
  at: Date;
  queues: QueueStatus[];
}

function toJson(snapshot: Snapshot, schema: string, windowMs: number) {
  return { schema, at: snapshot.at.toISOString(), completedWindowMs: windowMs, queues: snapshot.queues };
}

export function formatStatus(snapshot: Snapshot, schema: string, windowLabel: string): string {
  const header = `schema "${schema}" · ${snapshot.at.toISOString().replace(/\.\d{3}Z$/, "Z")}`;
  if (snapshot.queues.length === 0) return `${header}\nno jobs`;
  const row = (q: Omit<QueueStatus, "queue">, name: string) => [
    name,
    ...[q.scheduledReady, q.scheduledFuture, q.running, q.retrying, q.failed, q.completed, q.cancelled].map(String),
    formatAge(q.oldestReadyAgeMs),
  ];
  const rows = snapshot.queues.map((q) => row(q, q.queue));
  if (snapshot.queues.length > 1) rows.push(row(totals(snapshot.queues), "(all)"));
  const table = formatTable(
    ["queue", "ready", "future", "running", "retrying", "failed", `completed ${windowLabel}`, "cancelled", "oldest ready"],
    rows,
    ["left", "right", "right", "right", "right", "right", "right", "right", "right"],
  );
  return `${header}\n${table}`;
}

function totals(queues: QueueStatus[]): Omit<QueueStatus, "queue"> {
  const sum = (pick: (q: QueueStatus) => number) => queues.reduce((n, q) => n + pick(q), 0);
  const ages = queues.map((q) => q.oldestReadyAgeMs).filter((a): a is number => a !== null);
  return {
    scheduledReady: sum((q) => q.scheduledReady),
    scheduledFuture: sum((q) => q.scheduledFuture),
    running: sum((q) => q.running),
    retrying: sum((q) => q.retrying),
    failed: sum((q) => q.failed),
    completed: sum((q) => q.completed),
    cancelled: sum((q) => q.cancelled),
    oldestReadyAgeMs: ages.length > 0 ? Math.max(...ages) : null,
  };
}
