// Cron: validation, schedule identity, declared vs programmatic schedules, DST (computed tick
// sequences, no waiting), missed ticks after downtime, one job per tick under racing services,
// and deactivation/deletion taking effect in a running worker.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cronTicks, runMigrations, Sidetrack, SidetrackValidationError } from "../runtime/index.js";
import { latestCronTick, nextCronTick, planCronTick, validateCron } from "../runtime/cron/expression.js";
import { CronService } from "../runtime/cron/service.js";
import { createTestDatabase, type TestDatabase } from "./support/database.js";

let db: TestDatabase;
const instances: Sidetrack<any>[] = [];

beforeAll(async () => {
  db = await createTestDatabase("cron");
});
afterAll(async () => {
  for (const s of instances) await s.stop({ grace: 0 }).catch(() => undefined);
});

const iso = (dates: Date[]) => dates.map((d) => d.toISOString());
const quiet = { debug() {}, info() {}, warn() {}, error() {} };

type Queues = { a: { n?: number }; b: { n?: number }; c: { n?: number }; keyed: { id: string } };

async function migrated(schema: string) {
  await runMigrations({ pool: db.pool, schema });
  return schema;
}

function sidetrack(schema: string, queues: Record<string, object> = { a: {}, b: {}, c: {}, keyed: { uniqueBy: ["id"] } }) {
  const s = new Sidetrack<Queues>({
    databaseOptions: { pool: db.pool },
    schema,
    handleSignals: false,
    logger: quiet,
    pollInterval: 100,
    queues: queues as never,
  });
  instances.push(s);
  return s;
}

/** Jobs a schedule inserted: (queue, tick) in tick order. */
async function cronJobs(schema: string, queue: string): Promise<{ tick: Date; runAt: Date; payload: unknown }[]> {
  const { rows } = await db.pool.query(
    `select cron_tick as tick, run_at as "runAt", payload from ${schema}.jobs
     where queue = $1 and cron_schedule_id is not null order by cron_tick`,
    [queue],
  );
  return rows;
}

async function scheduleRow(schema: string, queue: string) {
  const { rows } = await db.pool.query(`select * from ${schema}.cron_schedules where queue = $1 order by id`, [queue]);
  return rows;
}

describe("validation", () => {
  it("accepts five and six fields and macros, normalises whitespace, and canonicalises the timezone", () => {
    expect(validateCron("q", "0 3 * * *")).toEqual({ expression: "0 3 * * *", timezone: "UTC" });
    expect(validateCron("q", "  */5   * * * * *  ", "Europe/Berlin")).toEqual({ expression: "*/5 * * * * *", timezone: "Europe/Berlin" });
    expect(validateCron("q", "@daily", "utc").timezone).toBe("UTC");
  });

  it.each([
    ["* * *", undefined, /queue "digest": cron schedule "\* \* \*" has 3 fields; a cron expression has 5 .* or 6/],
    ["* * * * * * *", undefined, /queue "digest": cron schedule "\* \* \* \* \* \* \*" has 7 fields/],
    ["61 * * * *", undefined, /queue "digest": cron schedule "61 \* \* \* \*" is not a valid cron expression: .*61/],
    ["0 0 30 2 *", undefined, /cron schedule "0 0 30 2 \*" is not a valid cron expression/],
    ["", undefined, /queue "digest": cron schedule must be a cron expression string/],
    ["0 3 * * *", "Mars/Olympus", /queue "digest": cron schedule "0 3 \* \* \*": timezone "Mars\/Olympus" is not an IANA timezone/],
    ["0 3 * * *", "", /timezone must be an IANA name/],
  ])("rejects %j (timezone %j) naming the queue and the expression", (expression, timezone, message) => {
    let error: unknown;
    try {
      validateCron("digest", expression, timezone);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SidetrackValidationError);
    expect((error as Error).message).toMatch(message);
    expect((error as SidetrackValidationError).queue).toBe("digest");
  });

  it("rejects a bad declared schedule in the constructor and a bad programmatic one before writing", async () => {
    expect(
      () => new Sidetrack({ databaseUrl: "postgres://unused", queues: { digest: { cron: { schedule: "0 25 * * *" } } } }),
    ).toThrow(/queue "digest": cron schedule "0 25 \* \* \*" is not a valid cron expression/);
    expect(
      () => new Sidetrack({ databaseUrl: "postgres://unused", queues: { digest: { cron: { schedule: "0 3 * * *", timezone: "Nowhere" } } } }),
    ).toThrow(SidetrackValidationError);
    expect(
      () => new Sidetrack<{ keyed: { id: string } }>({ databaseUrl: "postgres://unused", queues: { keyed: { uniqueBy: ["id"], cron: { schedule: "0 3 * * *" } } } }),
    ).toThrow(/payload\.id is required/);

    const schema = await migrated("cron_validation");
    const s = sidetrack(schema);
    await expect(s.scheduleCron("a", "* * * *", {})).rejects.toThrow(/queue "a": cron schedule "\* \* \* \*" has 4 fields/);
    await expect(s.scheduleCron("a", "0 3 * * *", {}, { timezone: "Berlin" })).rejects.toThrow(/not an IANA timezone/);
    await expect(s.scheduleCron("nope" as "a", "0 3 * * *", {})).rejects.toThrow(/unknown queue "nope"/);
    await expect(s.scheduleCron("a", "0 3 * * *", (() => 1) as never)).rejects.toThrow(SidetrackValidationError);
    expect(await scheduleRow(schema, "a")).toEqual([]);
  });
});

describe("DST (computed tick sequences, Europe/Berlin 2026)", () => {
  const tz = "Europe/Berlin";

  it("a 02:30 schedule runs once on the spring-forward day (02:30 does not exist: it runs at 03:30 CEST)", () => {
    const ticks = cronTicks("30 2 * * *", tz, new Date("2026-03-28T00:00:00Z"), new Date("2026-03-31T00:00:00Z"));
    expect(iso(ticks)).toEqual([
      "2026-03-28T01:30:00.000Z", // 02:30 CET
      "2026-03-29T01:30:00.000Z", // 03:30 CEST, the only run that day
      "2026-03-30T00:30:00.000Z", // 02:30 CEST
    ]);
    const onTheDay = ticks.filter((t) => t.toISOString().startsWith("2026-03-29"));
    expect(onTheDay).toHaveLength(1);
  });

  it("a 02:30 schedule runs once on the fall-back day (02:30 happens twice: it runs at the first)", () => {
    const ticks = cronTicks("30 2 * * *", tz, new Date("2026-10-24T00:00:00Z"), new Date("2026-10-27T00:00:00Z"));
    expect(iso(ticks)).toEqual([
      "2026-10-24T00:30:00.000Z", // 02:30 CEST
      "2026-10-25T00:30:00.000Z", // 02:30 CEST, the first 02:30; not again at 02:30 CET (01:30Z)
      "2026-10-26T01:30:00.000Z", // 02:30 CET
    ]);
  });

  it("the service's own step (planCronTick, one tick after another) gives the same sequences", () => {
    const walk = (expression: string, from: string, count: number) => {
      const schedule = { expression, timezone: tz, runMissed: false };
      let tick = nextCronTick(expression, tz, new Date(from));
      const out = [tick];
      while (out.length < count) {
        const plan = planCronTick(schedule, tick, tick); // claimed on time
        expect(plan.fire).toEqual(tick);
        tick = plan.next;
        out.push(tick);
      }
      return iso(out);
    };
    expect(walk("30 2 * * *", "2026-03-28T00:00:00Z", 3)).toEqual(["2026-03-28T01:30:00.000Z", "2026-03-29T01:30:00.000Z", "2026-03-30T00:30:00.000Z"]);
    expect(walk("30 2 * * *", "2026-10-24T00:00:00Z", 3)).toEqual(["2026-10-24T00:30:00.000Z", "2026-10-25T00:30:00.000Z", "2026-10-26T01:30:00.000Z"]);
  });

  it("hourly and sub-hourly schedules follow elapsed time across both transitions", () => {
    // Spring forward: local 02:00-02:59 does not exist; no tick is doubled.
    expect(iso(cronTicks("0 * * * *", tz, new Date("2026-03-28T23:30:00Z"), new Date("2026-03-29T03:00:00Z")))).toEqual([
      "2026-03-29T00:00:00.000Z", // 01:00 CET
      "2026-03-29T01:00:00.000Z", // 03:00 CEST
      "2026-03-29T02:00:00.000Z", // 04:00 CEST
      "2026-03-29T03:00:00.000Z",
    ]);
    // Fall back: both local 02:00s are real hours and each gets its tick, none twice.
    const fall = cronTicks("*/30 * * * *", tz, new Date("2026-10-24T23:45:00Z"), new Date("2026-10-25T02:00:00Z"));
    expect(iso(fall)).toEqual([
      "2026-10-25T00:00:00.000Z", // 02:00 CEST
      "2026-10-25T00:30:00.000Z", // 02:30 CEST
      "2026-10-25T01:00:00.000Z", // 02:00 CET
      "2026-10-25T01:30:00.000Z", // 02:30 CET
      "2026-10-25T02:00:00.000Z",
    ]);
    expect(new Set(iso(fall)).size).toBe(fall.length);
  });

  it("a daily 03:00 Berlin schedule lands on 03:00 local on both sides of each transition", () => {
    const local = (d: Date) => d.toLocaleString("sv-SE", { timeZone: tz });
    const spring = cronTicks("0 3 * * *", tz, new Date("2026-03-27T12:00:00Z"), new Date("2026-03-31T12:00:00Z"));
    const fall = cronTicks("0 3 * * *", tz, new Date("2026-10-23T12:00:00Z"), new Date("2026-10-27T12:00:00Z"));
    for (const t of [...spring, ...fall]) expect(local(t)).toMatch(/ 03:00:00$/);
    expect(spring).toHaveLength(4);
    expect(fall).toHaveLength(4);
  });
});

describe("missed ticks (planCronTick)", () => {
  const hourly = { expression: "0 * * * *", timezone: "UTC", runMissed: false };
  const now = new Date("2026-05-05T12:34:56Z");

  it("fires a late tick that is within missedAfter, and the tick after it next", () => {
    const plan = planCronTick(hourly, new Date("2026-05-05T12:00:00Z"), new Date("2026-05-05T12:00:30Z"), 60_000);
    expect(plan).toEqual({ fire: new Date("2026-05-05T12:00:00Z"), next: new Date("2026-05-05T13:00:00Z"), missed: false });
  });

  it("skips every missed tick by default: no job, next computed from now", () => {
    const plan = planCronTick(hourly, new Date("2026-05-01T00:00:00Z"), now, 60_000);
    expect(plan).toEqual({ fire: null, next: new Date("2026-05-05T13:00:00Z"), missed: true });
  });

  it("with runMissed, fires only the most recent missed tick", () => {
    const plan = planCronTick({ ...hourly, runMissed: true }, new Date("2026-05-01T00:00:00Z"), now, 60_000);
    expect(plan).toEqual({ fire: new Date("2026-05-05T12:00:00Z"), next: new Date("2026-05-05T13:00:00Z"), missed: true });
    expect(latestCronTick("0 * * * *", "UTC", new Date("2026-05-05T12:00:00Z"))).toEqual(new Date("2026-05-05T12:00:00Z"));
  });
});

describe("schedules in the database", () => {
  it("identifies a schedule by (queue, expression): two expressions on one queue are two schedules", async () => {
    const schema = await migrated("cron_identity");
    const s = sidetrack(schema);
    const daily = await s.scheduleCron("a", "0 3 * * *", { n: 1 });
    const hourly = await s.scheduleCron("a", "0 * * * *", { n: 2 });
    expect(daily.id).not.toBe(hourly.id);
    // The same expression written differently is the same schedule, updated in place.
    const again = await s.scheduleCron("a", " 0  3 * * * ", { n: 3 }, { timezone: "Europe/Berlin", runMissed: true });
    expect(again).toMatchObject({ id: daily.id, expression: "0 3 * * *", timezone: "Europe/Berlin", payload: { n: 3 }, runMissed: true, active: true, source: "programmatic" });
    expect((await s.listCronSchedules({ queue: "a" })).map((x) => [x.expression, x.payload])).toEqual([
      ["0 * * * *", { n: 2 }],
      ["0 3 * * *", { n: 3 }],
    ]);
    // Deactivating or deleting one leaves the other alone.
    expect(await s.deactivateCronSchedule("a", "0 3  * * *")).toBe(true);
    expect(await s.deleteCronSchedule("a", "0 * * * *")).toBe(true);
    expect(await s.deleteCronSchedule("a", "0 * * * *")).toBe(false);
    expect(await s.deactivateCronSchedule("a", "1 2 3 4 5")).toBe(false);
    expect((await s.listCronSchedules()).map((x) => [x.expression, x.active])).toEqual([["0 3 * * *", false]]);
  });

  it("start() registers declared schedules, keeps their next tick on restart, and never reactivates a deactivated one", async () => {
    const schema = await migrated("cron_declared");
    const queues = {
      a: { cron: { schedule: "0 0 1 1 *", payload: { n: 1 } }, handler: () => undefined },
      b: { cron: { schedule: "0 0 1 1 *", timezone: "Europe/Berlin" }, handler: () => undefined },
    };
    const first = sidetrack(schema, queues);
    await first.start();
    const [a1] = await scheduleRow(schema, "a");
    expect(a1).toMatchObject({ expression: "0 0 1 1 *", timezone: "UTC", payload: { n: 1 }, source: "declared", active: true });
    expect((await scheduleRow(schema, "b"))[0]).toMatchObject({ timezone: "Europe/Berlin", payload: {} });
    await first.deactivateCronSchedule("a", "0 0 1 1 *");
    await first.stop();

    const second = sidetrack(schema, queues);
    await second.start();
    const [a2] = await scheduleRow(schema, "a");
    expect(a2).toMatchObject({ id: a1.id, active: false });
    expect(a2.next_run_at).toEqual(a1.next_run_at);
    // An explicit scheduleCron is what brings it back.
    await second.scheduleCron("a", "0 0 1 1 *", { n: 1 });
    expect((await scheduleRow(schema, "a"))[0]).toMatchObject({ id: a1.id, active: true, source: "programmatic" });
    await second.stop();
  });

  it("start() replaces a declared schedule whose expression changed, and leaves programmatic schedules alone", async () => {
    const schema = await migrated("cron_redeclared");
    const v1 = sidetrack(schema, { a: { cron: { schedule: "0 3 * * *" }, handler: () => undefined }, b: {}, c: {} });
    await v1.start();
    await v1.scheduleCron("b", "0 4 * * *", {});
    await v1.scheduleCron("a", "0 5 * * *", { n: 5 });
    await v1.stop();

    // The declaration now says 03:15 for a, and declares b's programmatic expression too.
    const v2 = sidetrack(schema, {
      a: { cron: { schedule: "15 3 * * *" }, handler: () => undefined },
      b: { cron: { schedule: "0 4 * * *", payload: { n: 9 } } },
      c: {},
    });
    await v2.start();
    const rows = (await db.pool.query(`select queue, expression, source, payload from ${schema}.cron_schedules order by queue, expression`)).rows;
    expect(rows).toEqual([
      { queue: "a", expression: "0 5 * * *", source: "programmatic", payload: { n: 5 } },
      { queue: "a", expression: "15 3 * * *", source: "declared", payload: {} },
      { queue: "b", expression: "0 4 * * *", source: "programmatic", payload: {} },
    ]);
    await v2.stop();
  });
});

describe("the cron service", () => {
  /** A schedule whose next tick is set by hand, as if workers had been down since then. */
  async function overdue(s: Sidetrack<Queues>, schema: string, queue: keyof Queues & string, expression: string, nextRunAt: string, runMissed = false) {
    const schedule = await s.scheduleCron(queue, expression, { n: 1 } as never, { runMissed });
    await db.pool.query(`update ${schema}.cron_schedules set next_run_at = $2 where id = $1`, [schedule.id, nextRunAt]);
    return schedule;
  }
  const service = (schema: string, missedAfterMs?: number) =>
    new CronService({ pool: db.pool, schema, queues: ["a", "b", "c", "keyed"], queueOptions: () => ({}), missedAfterMs, onError: (e) => { throw e; } });

  it("after downtime skips the missed ticks: no pile-up, next tick from now", async () => {
    const schema = await migrated("cron_downtime");
    const s = sidetrack(schema);
    await overdue(s, schema, "a", "0 0 1 1 *", "2020-01-01T00:00:00Z");
    await service(schema).fireDue();
    expect(await cronJobs(schema, "a")).toEqual([]);
    const [row] = await scheduleRow(schema, "a");
    expect(row.next_run_at).toEqual(nextCronTick("0 0 1 1 *", "UTC", new Date()));
    expect(row.last_run_at).toBeNull();
  });

  it("after downtime with runMissed inserts one job, for the most recent missed tick", async () => {
    const schema = await migrated("cron_run_missed");
    const s = sidetrack(schema);
    await overdue(s, schema, "a", "0 0 1 1 *", "2020-01-01T00:00:00Z", true);
    await service(schema).fireDue();
    await service(schema).fireDue();
    const mostRecent = latestCronTick("0 0 1 1 *", "UTC", new Date())!;
    expect(await cronJobs(schema, "a")).toEqual([{ tick: mostRecent, runAt: mostRecent, payload: { n: 1 } }]);
    expect((await scheduleRow(schema, "a"))[0].last_run_at).toEqual(mostRecent);
  });

  it("five services racing over the same late ticks insert exactly one job per tick, and none is lost", async () => {
    const schema = await migrated("cron_race");
    const s = sidetrack(schema);
    // Per minute, five minutes behind: late, not missed (missedAfter is 10 minutes here).
    const since = new Date(Math.floor(Date.now() / 60_000) * 60_000 - 5 * 60_000);
    await overdue(s, schema, "a", "* * * * *", since.toISOString());
    await overdue(s, schema, "b", "*/10 * * * * *", since.toISOString());
    const services = Array.from({ length: 5 }, () => service(schema, 10 * 60_000));
    await Promise.all(services.map((x) => x.fireDue()));
    const until = new Date();
    for (const [queue, expression] of [["a", "* * * * *"], ["b", "*/10 * * * * *"]] as const) {
      const expected = [since, ...cronTicks(expression, "UTC", since, until)];
      const jobs = await cronJobs(schema, queue);
      // Ticks due by the end are all there exactly once (a tick that fell due while the
      // services ran may or may not have been fired yet).
      const fired = iso(jobs.map((j) => j.tick));
      expect(new Set(fired).size).toBe(fired.length);
      expect(fired).toEqual(iso(expected).slice(0, fired.length));
      expect(fired.length).toBeGreaterThanOrEqual(expected.length - 1);
    }
    const { rows } = await db.pool.query(`select count(*)::int as n from ${schema}.jobs group by cron_schedule_id, cron_tick having count(*) > 1`);
    expect(rows).toEqual([]);
  });

  it("respects the queue's uniqueBy: a tick whose job would duplicate a live one inserts nothing new", async () => {
    const schema = await migrated("cron_unique");
    const s = sidetrack(schema);
    const live = await s.insertJob("keyed", { id: "same" });
    const schedule = await s.scheduleCron("keyed", "* * * * * *", { id: "same" });
    await db.pool.query(`update ${schema}.cron_schedules set next_run_at = now() - interval '2 seconds' where id = $1`, [schedule.id]);
    await new CronService({ pool: db.pool, schema, queues: ["keyed"], queueOptions: () => ({ uniqueBy: ["id"] }), onError: (e) => { throw e; } }).fireDue();
    const { rows } = await db.pool.query(`select id::text, cron_schedule_id from ${schema}.jobs where queue = 'keyed'`);
    expect(rows).toEqual([{ id: live.id, cron_schedule_id: null }]);
    expect((await scheduleRow(schema, "keyed"))[0].next_run_at.getTime()).toBeGreaterThan(Date.now() - 1000);
  });
});

describe("a running worker", () => {
  it("stops firing a deactivated schedule and a deleted one without a restart; scheduleCron reactivates without catch-up", async () => {
    const schema = await migrated("cron_live");
    const s = sidetrack(schema, { a: { handler: () => undefined }, b: { handler: () => undefined }, c: { handler: () => undefined } });
    await s.start();
    await s.scheduleCron("a", "* * * * * *", {});
    await s.scheduleCron("b", "* * * * * *", {});
    await s.scheduleCron("c", "* * * * * *", {});
    await expect.poll(async () => (await cronJobs(schema, "a")).length, { timeout: 20_000 }).toBeGreaterThanOrEqual(2);

    /** Waits until schedule c (the witness) fired `n` more ticks: the worker kept working meanwhile. */
    const witness = async (n: number) => {
      const base = (await cronJobs(schema, "c")).length;
      await expect.poll(async () => (await cronJobs(schema, "c")).length, { timeout: 20_000 }).toBeGreaterThanOrEqual(base + n);
    };

    expect(await s.deactivateCronSchedule("a", "* * * * * *")).toBe(true);
    const deactivatedAt = new Date();
    const aCount = (await cronJobs(schema, "a")).length;
    expect(await s.deleteCronSchedule("b", "* * * * * *")).toBe(true);
    const bCount = (await cronJobs(schema, "b")).length;
    await witness(3);
    expect((await cronJobs(schema, "a")).length).toBe(aCount);
    expect((await cronJobs(schema, "b")).length).toBe(bCount);

    // Reactivated: runs again from now on, nothing for the time it was off.
    await s.scheduleCron("a", "* * * * * *", {});
    const reactivatedAt = new Date();
    await expect.poll(async () => (await cronJobs(schema, "a")).length, { timeout: 20_000 }).toBeGreaterThanOrEqual(aCount + 2);
    const gap = (await cronJobs(schema, "a")).filter((j) => j.tick > deactivatedAt && j.tick < new Date(reactivatedAt.getTime() - 1000));
    expect(gap).toEqual([]);
    await s.stop();
  });

  it("after downtime (next_run_at far in the past) resumes from now without a pile-up", async () => {
    const schema = await migrated("cron_live_downtime");
    const s = sidetrack(schema, { a: { handler: () => undefined }, b: { handler: () => undefined } });
    const skip = await s.scheduleCron("a", "* * * * * *", {});
    const runOne = await s.scheduleCron("b", "* * * * * *", {}, { runMissed: true });
    const { rows } = await db.pool.query<{ now: Date }>(
      `update ${schema}.cron_schedules set next_run_at = now() - interval '3 hours' where id = any($1) returning now()`,
      [[skip.id, runOne.id]],
    );
    const downUntil = rows[0]!.now;
    await s.start();
    await expect.poll(async () => (await cronJobs(schema, "a")).length, { timeout: 20_000 }).toBeGreaterThanOrEqual(3);
    await expect.poll(async () => (await cronJobs(schema, "b")).length, { timeout: 20_000 }).toBeGreaterThanOrEqual(3);
    await s.stop();
    // a: nothing from the three hours of downtime.
    const a = await cronJobs(schema, "a");
    expect(a.filter((j) => j.tick < downUntil)).toEqual([]);
    // b: one job for the most recent missed tick, then on from now.
    const b = await cronJobs(schema, "b");
    expect(b.filter((j) => j.tick.getTime() < downUntil.getTime() - 60_000)).toEqual([]);
    expect(new Set(iso(b.map((j) => j.tick))).size).toBe(b.length);
  });
});
