import type { Job } from "../runtime/index.js";
import { formatTable, formatTime } from "./table.js";

/** One line per job, for `jobs list`. */
export function formatJobList(jobs: Job[]): string {
  return formatTable(
    ["id", "queue", "status", "attempt", "run at", "last error"],
    jobs.map((job) => [
      job.id,
      job.queue,
      job.status,
      `${job.attempt}/${job.maxAttempts}`,
      formatTime(job.runAt),
      truncate(firstLine(job.errors.at(-1)?.message ?? ""), 60),
    ]),
    ["right"],
  );
}

/** Everything about one job, for `jobs show`: nothing is cut, stacks included. */
export function formatJob(job: Job): string {
  const fields: [string, string][] = [
    ["queue", job.queue],
    ["status", job.status],
    ["attempts", `${job.attempt} of ${job.maxAttempts}`],
    ["snoozes", String(job.snoozes)],
    ["priority", String(job.priority)],
    ["unique key", job.uniqueKey ?? "-"],
    ["run at", formatTime(job.runAt)],
    ["inserted at", formatTime(job.insertedAt)],
    ["started at", formatTime(job.startedAt)],
    ["completed at", formatTime(job.completedAt)],
    ["failed at", formatTime(job.failedAt)],
    ["cancelled at", formatTime(job.cancelledAt)],
    ["locked by", job.lockedBy ? `${job.lockedBy} until ${formatTime(job.lockedUntil)}` : "-"],
    ["tags", job.tags.length > 0 ? job.tags.join(", ") : "-"],
  ];
  const width = Math.max(...fields.map(([name]) => name.length));
  const lines = [`job ${job.id}`, ...fields.map(([name, value]) => `  ${name.padEnd(width)}  ${value}`)];
  lines.push("payload", indent(JSON.stringify(job.payload, null, 2), "  "));
  for (const [name, value] of [["meta", job.meta], ["progress", job.progress], ["output", job.output]] as const) {
    lines.push(value === null ? `${name}: none` : name);
    if (value !== null) lines.push(indent(JSON.stringify(value, null, 2), "  "));
  }
  lines.push(job.errors.length === 0 ? "errors: none" : `errors (${job.errors.length})`);
  for (const error of job.errors) {
    lines.push(`  attempt ${error.attempt} at ${formatTime(error.at)}: ${error.message}`);
    if (error.stack) lines.push(indent(error.stack, "    "));
  }
  return lines.join("\n");
}

function indent(text: string, prefix: string): string {
  return text
    .split("\n")
    .map((line) => prefix + line)
    .join("\n");
}

function firstLine(text: string): string {
  return text.split("\n", 1)[0] ?? "";
}

function truncate(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
