// Recurring jobs (cron). Schedules live in the `cron_schedules` table (migration 0002), one row
// per (queue, expression). Every worker runs a CronService; a tick is fired by moving the
// schedule's next_run_at forward with a conditional update in the transaction that inserts the
// tick's job, so exactly one job is inserted per tick however many workers race for it.
// See docs/cron.md.
import { CronExpressionParser } from "cron-parser";
import type pg from "pg";
import { inTransaction, usePg } from "../db/clients.js";
import { CRON_MISSED_AFTER_DEFAULT_MS, CRON_TICK_INTERVAL_DEFAULT_MS, CRON_TIMEZONE_DEFAULT } from "../config/defaults.js";
import { SidetrackValidationError } from "../errors.js";
import { insertRows, prepareInsert, type InsertLimits } from "../insert/insert.js";
import { Periodic } from "../worker/periodic.js";
import type { QueueOptions } from "../config/queue-options.js";
import { cronClaimTickSql } from "../db/sql/cronClaimTick.js";
import { cronDueSchedulesSql } from "../db/sql/cronDueSchedules.js";
import { cronTagJobSql } from "../db/sql/cronTagJob.js";
import type { Logger } from "../config/worker-options.js";

/** A schedule as stored. */
export interface CronSchedule<Payload = unknown, Queue extends string = string> {
  id: string;
  queue: Queue;
  /** Normalised: trimmed, fields separated by one space. With `queue`, the schedule's identity. */
  expression: string;
  timezone: string;
  payload: Payload;
  /** After downtime, run the most recent missed tick (default: skip every missed tick). */
  runMissed: boolean;
  /** `declared` by a queue's `cron` option (kept in sync by start()), or `programmatic` (scheduleCron). */
  source: "declared" | "programmatic";
  active: boolean;
  nextRunAt: Date;
  /** The latest tick that inserted a job. */
  lastRunAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface ScheduleCronOptions {
  /** IANA timezone the expression is read in. Default UTC. */
  timezone?: string;
  /** After downtime, insert one job for the most recent missed tick. Default false: skip them all. */
  runMissed?: boolean;
}

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
  const fields = normalized.split(" ").length;
  if (!/^@\w+$/.test(normalized) && fields !== 5 && fields !== 6) {
    fail(
      "cron.schedule",
      `cron schedule "${normalized}" has ${fields} field${fields === 1 ? "" : "s"}; ` +
        "a cron expression has 5 (minute hour day month weekday) or 6 (seconds first)",
    );
  }
  let zone = CRON_TIMEZONE_DEFAULT;
  if (timezone !== undefined) {
    if (typeof timezone !== "string" || timezone === "") {
      fail("cron.timezone", `cron schedule "${normalized}": timezone must be an IANA name such as "Europe/Berlin", got ${JSON.stringify(timezone)}`);
    }
    try {
      zone = new Intl.DateTimeFormat("en-US", { timeZone: timezone as string }).resolvedOptions().timeZone;
    } catch {
      fail("cron.timezone", `cron schedule "${normalized}": timezone ${JSON.stringify(timezone)} is not an IANA timezone (e.g. "Europe/Berlin", "UTC")`);
    }
  }
  try {
    CronExpressionParser.parse(normalized, { tz: zone, currentDate: new Date() }).next();
  } catch (error) {
    fail("cron.schedule", `cron schedule "${normalized}" is not a valid cron expression: ${(error as Error).message}`);
  }
  return { expression: normalized, timezone: zone };
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

interface ScheduleRecord {
  id: string;
  queue: string;
  expression: string;
  timezone: string;
  payload: unknown;
  run_missed: boolean;
  source: "declared" | "programmatic";
  active: boolean;
  next_run_at: string;
  last_run_at: string | null;
  created_at: string;
  updated_at: string;
}

export function parseCronSchedule<Payload = unknown>(json: string): CronSchedule<Payload> {
  const r = JSON.parse(json) as ScheduleRecord;
  return {
    id: r.id,
    queue: r.queue,
    expression: r.expression,
    timezone: r.timezone,
    payload: r.payload as Payload,
    runMissed: r.run_missed,
    source: r.source,
    active: r.active,
    nextRunAt: new Date(r.next_run_at),
    lastRunAt: r.last_run_at === null ? null : new Date(r.last_run_at),
    createdAt: new Date(r.created_at),
    updatedAt: new Date(r.updated_at),
  };
}

export interface CronServiceConfig {
  pool: pg.Pool;
  schema: string;
  /** Queues whose schedules this worker fires: those it knows the options of. */
  queues: readonly string[];
  /** The options a queue's jobs are inserted with (maxAttempts, priority, uniqueBy, …). */
  queueOptions: (queue: string) => QueueOptions<any> | undefined;
  limits?: InsertLimits;
  /** Read the schedules this often at most. Default CRON_TICK_INTERVAL_DEFAULT_MS. */
  tickIntervalMs?: number;
  /** A tick unclaimed this long is missed. Default CRON_MISSED_AFTER_DEFAULT_MS. */
  missedAfterMs?: number;
  logger?: Logger;
  onError: (error: unknown) => void;
}

interface DueRow {
  id: string;
  queue: string;
  expression: string;
  timezone: string;
  run_missed: boolean;
  next_run_at: string;
  now: string;
}

/**
 * One worker's cron service. Each round it reads the active schedules of its queues that are
 * due (or due within one interval) from the table, so schedules added, deactivated or deleted
 * anywhere take effect at the next round without a restart, and claims each due tick.
 */
export class CronService {
  readonly #config: CronServiceConfig;
  readonly #intervalMs: number;
  readonly #missedAfterMs: number;
  readonly #periodic: Periodic;
  #stopped = false;
  #sleeping: { timer: NodeJS.Timeout; resolve: () => void } | undefined;

  constructor(config: CronServiceConfig) {
    this.#config = config;
    this.#intervalMs = config.tickIntervalMs ?? CRON_TICK_INTERVAL_DEFAULT_MS;
    this.#missedAfterMs = config.missedAfterMs ?? CRON_MISSED_AFTER_DEFAULT_MS;
    this.#periodic = new Periodic(this.#intervalMs, () => this.#round(), config.onError);
  }

  start(): void {
    if (this.#config.queues.length === 0) return;
    this.#stopped = false;
    this.#periodic.start(true);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#sleeping) {
      clearTimeout(this.#sleeping.timer);
      this.#sleeping.resolve();
    }
    await this.#periodic.stop();
  }

  /** One round: fire what is due, then, while the next tick comes sooner than the interval, wait for it and fire it. */
  async #round(): Promise<void> {
    for (let i = 0; i < 10 && !this.#stopped; i++) {
      const wait = await this.fireDue();
      if (wait === undefined || wait >= this.#intervalMs || this.#stopped) return;
      await this.#sleep(wait);
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#sleeping = undefined;
        resolve();
      }, ms);
      this.#sleeping = { timer, resolve };
    });
  }

  /**
   * Claims every due tick of this worker's schedules once. Returns the milliseconds until the
   * next tick within the look-ahead window, or undefined when there is none. Public for tests.
   */
  async fireDue(): Promise<number | undefined> {
    const { pool, schema, queues } = this.#config;
    const { rows } = await pool.query<DueRow>(cronDueSchedulesSql(schema), [queues, this.#intervalMs]);
    if (rows.length === 0) return undefined;
    const readAt = Date.now();
    const now = new Date(rows[0]!.now);
    let earliest = Infinity;
    for (const row of rows) {
      if (this.#stopped) break;
      const next = await this.#fireSchedule(row, now);
      earliest = Math.min(earliest, next.getTime());
    }
    // Measured on the database clock, minus the time spent since it was read; a few ms late
    // so the tick is due on that clock when the next round reads it.
    return Math.max(0, earliest - now.getTime() - (Date.now() - readAt)) + 5;
  }

  /** Fires the due ticks of one schedule, in order. Returns its next tick. */
  async #fireSchedule(row: DueRow, now: Date): Promise<Date> {
    const schedule = { expression: row.expression, timezone: row.timezone, runMissed: row.run_missed };
    // The claim compares next_run_at with the exact text read (microseconds included, should
    // anyone have set it by hand), then with the ISO text this service wrote.
    let stored = row.next_run_at;
    let tick = new Date(stored);
    while (tick.getTime() <= now.getTime()) {
      const plan = planCronTick(schedule, tick, now, this.#missedAfterMs);
      if (!(await this.#claim(row, stored, plan))) return plan.next; // another worker claimed it
      tick = plan.next;
      stored = tick.toISOString();
    }
    return tick;
  }

  /** Claims `tick` and inserts its job, in one transaction. False when the tick was not ours to claim. */
  async #claim(row: DueRow, tick: string, plan: TickPlan): Promise<boolean> {
    const { pool, schema } = this.#config;
    return inTransaction(pool, async (client) => {
      const claimed = await client.query<{ queue: string; payload: unknown }>(cronClaimTickSql(schema), [
        row.id,
        tick,
        plan.next.toISOString(),
        plan.fire?.toISOString() ?? null,
        row.timezone,
      ]);
      const schedule = claimed.rows[0];
      // Not ours (another worker claimed it, or the schedule changed): the claim changed nothing.
      if (!schedule) return false;
      if (plan.fire) await this.#insertTickJob(client, row, schedule, plan.fire);
      else this.#config.logger?.info(`cron ${row.queue} "${row.expression}": skipped missed ticks from ${tick}; next ${plan.next.toISOString()}`);
      return true;
    });
  }

  async #insertTickJob(client: pg.PoolClient, row: DueRow, schedule: { queue: string; payload: unknown }, fire: Date): Promise<void> {
    let insert;
    try {
      insert = prepareInsert(schedule.queue, schedule.payload, { runAt: fire }, this.#config.queueOptions(schedule.queue) ?? {}, this.#config.limits);
    } catch (error) {
      // Bad input never heals by retrying: the tick is used up without a job, and said so.
      this.#config.onError(
        new SidetrackValidationError(
          `cron schedule "${row.expression}" of queue "${schedule.queue}": tick ${fire.toISOString()} inserted no job: ${(error as Error).message}`,
          schedule.queue,
        ),
      );
      return;
    }
    const [job] = await insertRows(usePg(client), this.#config.schema, [insert]);
    // A duplicate (the queue's uniqueBy matched a live job) is someone else's job: leave it be.
    if (job && !job.duplicate) await client.query(cronTagJobSql(this.#config.schema), [job.id, row.id, fire.toISOString()]);
  }
}
