// The rules a queue's options obey, written once. The runtime applies them to
// `new Sidetrack({ queues })` and the generated client's createWorker in the constructor; the
// generator applies the same functions to the declaration, pointing at `file:line:col`. Each
// rule returns what is wrong (a phrase that follows the option's name) or undefined.
import { parseDuration } from "./duration.js";

/** The largest value of a PostgreSQL integer column (priority, max_attempts). */
export const MAX_INT = 2_147_483_647;

/** The options a queue accepts, in the order the docs list them. */
export const QUEUE_OPTION_NAMES = [
  "schema",
  "maxAttempts",
  "priority",
  "timeout",
  "concurrency",
  "uniqueBy",
  "backoff",
  "globalConcurrency",
  "concurrencyBy",
  "concurrencyPerKey",
  "rateLimit",
  "cron",
  "maxSnoozes",
  "maxOutputBytes",
  "onDuplicate",
  "uniqueFor",
] as const;
/** What a duplicate insert does to the live job holding its key (docs/unique.md). */
export const ON_DUPLICATE_MODES = ["keep", "replace", "extend"] as const;
export type OnDuplicate = (typeof ON_DUPLICATE_MODES)[number];

/** `onDuplicate`: one of ON_DUPLICATE_MODES. */
export function onDuplicateProblem(value: unknown): string | undefined {
  return (ON_DUPLICATE_MODES as readonly unknown[]).includes(value) ? undefined : `must be one of ${ON_DUPLICATE_MODES.map((m) => `"${m}"`).join(", ")}, got ${show(value)}`;
}
export const RATE_LIMIT_KEYS = ["limit", "per"] as const;
export const BACKOFF_KEYS = ["base", "max"] as const;
export const CRON_KEYS = ["schedule", "timezone", "payload"] as const;

/** A value as an error message shows it. */
export function show(value: unknown): string {
  if (value === undefined) return "nothing";
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}

/** An integer column value of at least `min`. */
export function integerProblem(value: unknown, min: number): string | undefined {
  if (typeof value === "number" && Number.isInteger(value) && value >= min && value <= MAX_INT) return undefined;
  return min <= -MAX_INT ? `must be an integer, got ${show(value)}` : `must be an integer of at least ${min}, got ${show(value)}`;
}

/** A Duration: milliseconds, or a string such as "500ms", "30s", "2m", "1h". */
export function durationProblem(value: unknown): string | undefined {
  try {
    parseDuration(value, "");
    return undefined;
  } catch (error) {
    return (error as Error).message.trimStart();
  }
}

/** An object whose keys are all among `keys`. */
export function objectProblem(value: unknown, keys: readonly string[]): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return `must be an object, got ${show(value)}`;
  const unknown = Object.keys(value).find((key) => !keys.includes(key));
  return unknown === undefined ? undefined : `has unknown key "${unknown}"; known keys: ${keys.join(", ")}`;
}

/** `uniqueBy`: a non-empty array of distinct field names. */
export function uniqueByProblem(value: unknown): string | undefined {
  if (!Array.isArray(value) || value.length === 0 || value.some((v) => typeof v !== "string" || v === "")) {
    return `must be a non-empty array of payload field names, got ${show(value)}`;
  }
  const twice = value.find((field, i) => value.indexOf(field) !== i);
  return twice === undefined ? undefined : `names "${twice}" twice`;
}

/** `concurrencyBy`: the same shape as `uniqueBy`. */
export const concurrencyByProblem = uniqueByProblem;

/** `concurrencyPerKey`: only meaningful with `concurrencyBy`. */
export function concurrencyPerKeyProblem(value: unknown, concurrencyBy: unknown): string | undefined {
  return integerProblem(value, 1) ?? (concurrencyBy === undefined ? "needs concurrencyBy (the payload fields that make the key)" : undefined);
}

/** `rateLimit`: { limit: integer ≥ 1, per: Duration ≥ 1ms }; returns [field suffix, problem]. */
export function rateLimitProblem(value: unknown): [string, string] | undefined {
  const shape = objectProblem(value, RATE_LIMIT_KEYS);
  if (shape) return ["", shape];
  const r = value as { limit?: unknown; per?: unknown };
  const limit = integerProblem(r.limit, 1);
  if (limit) return [".limit", limit];
  if (r.per === undefined) return [".per", "is required (a Duration such as \"1s\")"];
  const per = durationProblem(r.per);
  if (per) return [".per", per];
  if (parseDuration(r.per, "") < 1) return [".per", `must be at least 1ms, got ${show(r.per)}`];
  return undefined;
}

/** The known name nearest to a misspelt one (edit distance ≤ 2, or a case-only difference). */
export function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const d = candidate.toLowerCase() === name.toLowerCase() ? 0 : distance(name, candidate);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length]!;
}
