// The cron schedule registry: the rows of `cron_schedules` and every way they change. Declared
// schedules (a queue's `cron` option) are made to match the declaration by start(); programmatic
// ones are created by scheduleCron() and never touched by start(). A schedule is identified by
// (queue, expression). The service that fires the ticks is service.ts.
import { inTransaction, type DbClient } from "../db/clients.js";
import { parseCronSchedule } from "../db/rows.js";
import { cronActivateSql } from "../db/sql/cronActivate.js";
import { cronDeactivateSql } from "../db/sql/cronDeactivate.js";
import { cronDeleteSql } from "../db/sql/cronDelete.js";
import { cronListSql } from "../db/sql/cronList.js";
import { cronRegisterLockSql } from "../db/sql/cronLock.js";
import { cronPruneDeclaredSql } from "../db/sql/cronPruneDeclared.js";
import { cronRegisterDeclaredSql } from "../db/sql/cronRegisterDeclared.js";
import { cronScheduleSql } from "../db/sql/cronSchedule.js";
import { SidetrackValidationError } from "../errors.js";
import { nextCronTick, normalizeCronExpression, type ValidCron } from "./expression.js";
import type pg from "pg";
import type { CronSchedule, InsertedJob } from "../types.js";
import type { QueueOptions } from "../config/queue-options.js";
import { insertRows, prepareInsert } from "../insert/insert.js";

/** A declared schedule after validation: what start() writes. */
export interface DeclaredSchedule extends ValidCron {
  queue: string;
  payload: unknown;
}

/** A programmatic schedule after validation: what scheduleCron() writes. */
export interface NewSchedule extends DeclaredSchedule {
  runMissed: boolean;
}

/**
 * Creates the schedule (queue, expression), or updates it: timezone, payload and runMissed are
 * replaced, it becomes programmatic and active again if it was deactivated.
 */
export async function upsertSchedule(db: DbClient, schema: string, s: NewSchedule): Promise<CronSchedule> {
  const next = nextCronTick(s.expression, s.timezone, new Date());
  const [row] = await db.query<{ schedule: string }>(cronScheduleSql(schema), [
    s.queue,
    s.expression,
    s.timezone,
    JSON.stringify(s.payload),
    s.runMissed,
    next.toISOString(),
  ]);
  return parseCronSchedule(row!.schedule);
}

/** Deactivates (queue, expression); false when there is no such schedule. */
export async function deactivateSchedule(db: DbClient, schema: string, queue: string, expression: string): Promise<boolean> {
  return (await db.query(cronDeactivateSql(schema), [queue, scheduleExpression(queue, expression)])).length > 0;
}

/** Deletes (queue, expression); jobs it inserted stay. False when there is no such schedule. */
export async function deleteSchedule(db: DbClient, schema: string, queue: string, expression: string): Promise<boolean> {
  return (await db.query(cronDeleteSql(schema), [queue, scheduleExpression(queue, expression)])).length > 0;
}

/**
 * Activates (queue, expression) again: it fires from its next tick after now, in its timezone;
 * ticks missed while it was inactive are not fired. Undefined when there is no such schedule.
 */
export async function activateSchedule(db: DbClient, schema: string, queue: string, expression: string): Promise<CronSchedule | undefined> {
  const normalized = scheduleExpression(queue, expression);
  const [current] = (await listSchedules(db, schema, queue)).filter((s) => s.expression === normalized);
  if (!current) return undefined;
  const next = nextCronTick(current.expression, current.timezone, new Date());
  const [row] = await db.query<{ schedule: string }>(cronActivateSql(schema), [queue, normalized, next.toISOString()]);
  return row ? parseCronSchedule(row.schedule) : undefined;
}

/**
 * Inserts one job of the schedule now, with its payload, as a tick would (active or not); the
 * schedule's own ticks are unchanged. `queueOptions` are the queue's declared options when the
 * caller knows them (uniqueBy, maxAttempts …), else the defaults.
 */
export async function runScheduleNow(
  db: DbClient,
  schema: string,
  schedule: CronSchedule,
  queueOptions: QueueOptions<unknown> = {},
): Promise<InsertedJob> {
  const row = prepareInsert(schedule.queue, schedule.payload, { runAt: new Date() }, queueOptions, {});
  const [job] = await insertRows(db, schema, [row]);
  return job!;
}

/** Every schedule (of one queue, or all), active or not. */
export async function listSchedules(db: DbClient, schema: string, queue?: string): Promise<CronSchedule[]> {
  const rows = await db.query<{ schedule: string }>(cronListSql(schema), [queue ?? null]);
  return rows.map((r) => parseCronSchedule(r.schedule));
}

/**
 * Makes the table match the declaration, in one transaction serialised between workers starting
 * at once: declared schedules of `queues` that the declaration no longer has are deleted, the
 * declared ones inserted or updated (a deactivated one stays deactivated). Pruning deletes what
 * `declared` lacks, so it is right only for an instance that knows the whole declaration; with
 * `prune: false` (an instance built from handlers alone) the known schedules are only upserted.
 */
export async function registerDeclaredSchedules(
  pool: pg.Pool,
  schema: string,
  queues: readonly string[],
  declared: readonly DeclaredSchedule[],
  options: { prune: boolean } = { prune: true },
): Promise<void> {
  if (declared.length === 0) {
    // Nothing to write, so nothing to serialise with other starting workers: deleting what the
    // declaration no longer has is one idempotent statement (most workers start this way).
    if (options.prune) await pool.query(cronPruneDeclaredSql(schema), [queues, [], []]);
    return;
  }
  await inTransaction(pool, async (client) => {
    await client.query(cronRegisterLockSql, [schema]);
    if (options.prune) {
      await client.query(cronPruneDeclaredSql(schema), [queues, declared.map((d) => d.queue), declared.map((d) => d.expression)]);
    }
    for (const d of declared) {
      const next = nextCronTick(d.expression, d.timezone, new Date());
      await client.query(cronRegisterDeclaredSql(schema), [d.queue, d.expression, d.timezone, JSON.stringify(d.payload), next.toISOString()]);
    }
  });
}

/** A schedule's expression as given to deactivate/delete, normalised as it is stored. */
function scheduleExpression(queue: string, expression: unknown): string {
  if (typeof expression !== "string" || expression.trim() === "") {
    throw new SidetrackValidationError(`queue "${queue}": cron expression must be a non-empty string, got ${JSON.stringify(expression)}`, queue);
  }
  return normalizeCronExpression(expression);
}
