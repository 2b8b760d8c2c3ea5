// Cron expressions: validation, normalisation and tick arithmetic. Pure functions over
// cron-parser; the service (service.ts) and the schedule registry (schedules.ts) use them.
import { CronExpressionParser } from "cron-parser";
import { CRON_MISSED_AFTER_DEFAULT_MS, CRON_TIMEZONE_DEFAULT } from "../config/defaults.js";
import { SidetrackValidationError } from "../errors.js";

/** A schedule's expression and timezone after validation. */
export interface ValidCron {
  expression: string;
  timezone: string;
}

/**
 * Validates a cron expression (five fields, six with seconds first, or a macro such as
 * `@daily`) and an IANA timezone. Throws SidetrackValidationError naming the queue and the
 * expression. Returns the normalised expression (one space between fields) and timezone.
 */
export function validateCron(queue: string, expression: unknown, timezone?: unknown): ValidCron {
  const fail = (path: string, message: string): never => {
    throw new SidetrackValidationError(`queue "${queue}": ${message}`, queue, path);
  };
  if (typeof expression !== "string" || expression.trim() === "") {
    fail("cron.schedule", `cron schedule must be a cron expression string such as "0 3 * * *", got ${JSON.stringify(expression)}`);
  }
  const normalized = normalizeCronExpression(expression as string);
  const shape = cronShapeProblem(normalized);
  if (shape) fail("cron.schedule", `cron schedule ${shape}`);
  let zone = CRON_TIMEZONE_DEFAULT;
  if (timezone !== undefined) {
    if (typeof timezone !== "string" || timezone === "") {
      fail("cron.timezone", `cron schedule "${normalized}": timezone must be an IANA name such as "Europe/Berlin", got ${JSON.stringify(timezone)}`);
    }
    const resolved = resolveTimeZone(timezone as string);
    if (resolved === undefined) {
      fail("cron.timezone", `cron schedule "${normalized}": timezone ${JSON.stringify(timezone)} is not an IANA timezone (e.g. "Europe/Berlin", "UTC")`);
    }
    zone = resolved!;
  }
  const parse = cronParseProblem(normalized, zone);
  if (parse) fail("cron.schedule", `cron schedule ${parse}`);
  return { expression: normalized, timezone: zone };
}

/**
 * What is wrong with the number of fields of a (normalised) expression, as a phrase that
 * follows "cron schedule" or ".schedule"; undefined when it has 5 or 6, or is a macro. Shared
 * with the generator, which reports it at the declaration's line and column.
 */
export function cronShapeProblem(expression: string): string | undefined {
  const fields = expression.split(" ").length;
  if (/^@\w+$/.test(expression) || fields === 5 || fields === 6) return undefined;
  return `"${expression}" has ${fields} field${fields === 1 ? "" : "s"}; a cron expression has 5 (minute hour day month weekday) or 6 (seconds first)`;
}

/** Whether cron-parser accepts the expression in `timezone`; the phrase to report when not. */
export function cronParseProblem(expression: string, timezone: string): string | undefined {
  try {
    CronExpressionParser.parse(expression, { tz: timezone, currentDate: new Date() }).next();
    return undefined;
  } catch (error) {
    return `"${expression}" is not a valid cron expression: ${(error as Error).message}`;
  }
}

/** The canonical name of an IANA timezone, or undefined when it is not one. */
export function resolveTimeZone(timezone: string): string | undefined {
  try {
    return new Intl.DateTimeFormat("en-US", { timeZone: timezone }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

/** Trims and joins the fields with single spaces: `" 0  3 * * *"` and `"0 3 * * *"` are one schedule. */
export function normalizeCronExpression(expression: string): string {
  return expression.trim().split(/\s+/).join(" ");
}

/** The first tick strictly after `after`. */
export function nextCronTick(expression: string, timezone: string, after: Date): Date {
  return CronExpressionParser.parse(expression, { tz: timezone, currentDate: after }).next().toDate();
}

/** The latest tick at or before `at`, or undefined when there is none. */
export function latestCronTick(expression: string, timezone: string, at: Date): Date | undefined {
  const parsed = CronExpressionParser.parse(expression, { tz: timezone, currentDate: new Date(at.getTime() + 1) });
  return parsed.hasPrev() ? parsed.prev().toDate() : undefined;
}

/** Every tick in (from, to], in order: the sequence the cron service fires when no tick is missed. */
export function cronTicks(expression: string, timezone: string, from: Date, to: Date, limit = 10_000): Date[] {
  const parsed = CronExpressionParser.parse(expression, { tz: timezone, currentDate: from, endDate: to });
  const ticks: Date[] = [];
  while (ticks.length < limit && parsed.hasNext()) ticks.push(parsed.next().toDate());
  return ticks;
}

/** What one claim of a schedule does. */
export interface TickPlan {
  /** The tick a job is inserted for, or null when missed ticks are only skipped. */
  fire: Date | null;
  /** The schedule's new next_run_at, always after the tick claimed. */
  next: Date;
  /** Whether the tick claimed was missed (unclaimed for longer than `missedAfterMs`). */
  missed: boolean;
}

/**
 * Decides what claiming the due tick `tick` at `now` does. On time (claimed within
 * `missedAfterMs` of its time): fire it, next is the tick after it, so every tick fires once
 * even after a short pause. Missed (no worker ran for a while): no pile-up; the next tick is
 * computed from now, and with `runMissed` one job is inserted for the most recent missed tick.
 */
export function planCronTick(
  schedule: { expression: string; timezone: string; runMissed: boolean },
  tick: Date,
  now: Date,
  missedAfterMs: number = CRON_MISSED_AFTER_DEFAULT_MS,
): TickPlan {
  const { expression, timezone } = schedule;
  if (now.getTime() - tick.getTime() <= missedAfterMs) {
    return { fire: tick, next: nextCronTick(expression, timezone, tick), missed: false };
  }
  const fire = schedule.runMissed ? (latestCronTick(expression, timezone, now) ?? tick) : null;
  return { fire, next: nextCronTick(expression, timezone, now), missed: true };
}

