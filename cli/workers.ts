import type { Argv, CommandModule } from "yargs";
import { listWorkers, type WorkerInfo } from "../runtime/index.js";
import { connectionOptions, requireMigrated, resolveTarget, withDatabase, type ConnectionArgs } from "./connection.js";
import { out } from "./output.js";
import { formatAge, formatTable } from "./table.js";

interface WorkersArgs extends ConnectionArgs {
  json?: boolean;
}

export const workersCommand: CommandModule<object, WorkersArgs> = {
  command: "workers",
  describe: "The registered worker processes: host, pid, queues, heartbeat, whether alive",
  builder: (y: Argv) =>
    connectionOptions(y)
      .option("json", { type: "boolean", describe: "print JSON" })
      .example("$0 workers", "a table of every worker")
      .example("$0 workers --json | jq '.workers[] | select(.alive == false)'", "workers that died and are being rescued") as unknown as Argv<WorkersArgs>,
  handler: async (args) => {
    const target = resolveTarget(args);
    await withDatabase(target, async (pool) => {
      await requireMigrated(pool, target.schema);
      const workers = await listWorkers(pool, { schema: target.schema });
      out(args.json ? JSON.stringify({ schema: target.schema, at: new Date().toISOString(), workers }, null, 2) : formatWorkers(workers, target.schema));
    });
  },
};

export function formatWorkers(workers: WorkerInfo[], schema: string): string {
  const header = `schema "${schema}" · ${workers.length} worker${workers.length === 1 ? "" : "s"}`;
  if (workers.length === 0) return `${header}\nno worker is running`;
  const liveness = (w: WorkerInfo) => (w.alive === null ? "poll-only" : w.alive ? "alive" : "gone");
  const table = formatTable(
    ["id", "host", "pid", "queues", "concurrency", "version", "started", "heartbeat", "liveness"],
    workers.map((w) => [
      w.id,
      w.host,
      String(w.pid),
      w.queues.join(","),
      String(w.concurrency),
      w.version,
      w.startedAt.toISOString().replace(/\.\d{3}Z$/, "Z"),
      `${formatAge(w.heartbeatAgeMs)} ago`,
      liveness(w),
    ]),
    ["left", "left", "right", "left", "right", "left", "left", "right", "left"],
  );
  return `${header}\n${table}`;
}
