// Recurring jobs (cron). Schedules live in the `cron_schedules` table (migration 0002), one row
// per (queue, expression). Every worker runs a CronService; a tick is fired by moving the
// schedule's next_run_at forward with a conditional update in the transaction that inserts the
// tick's job, so exactly one job is inserted per tick however many workers race for it.
// See docs/cron.md.
import type pg from "pg";
import { inTransaction, usePg } from "../db/clients.js";
import { CRON_MISSED_AFTER_DEFAULT_MS, CRON_TICK_INTERVAL_DEFAULT_MS } from "../config/defaults.js";
import { SidetrackValidationError } from "../errors.js";
import { insertRows, prepareInsert, type InsertLimits } from "../insert/insert.js";
import { Periodic } from "../worker/periodic.js";
import type { QueueOptions } from "../config/queue-options.js";
import { cronClaimTickSql } from "../db/sql/cronClaimTick.js";
import { cronDueSchedulesSql } from "../db/sql/cronDueSchedules.js";
import { cronTagJobSql } from "../db/sql/cronTagJob.js";
import type { Logger } from "../types.js";
import { planCronTick, type TickPlan } from "./expression.js";

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
