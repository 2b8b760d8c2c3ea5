// The bad-input corpus: whatever a caller passes, it either gets a clear error naming the queue
// and the property (and nothing is written), or it is stored as data and read back exactly as
// given. Nothing a caller passes is executed; no batch is ever half-written.
// (Invalid cron expressions are covered by the cron tests.)
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runMigrations, Sidetrack, SidetrackValidationError, usePg, type Job } from "../runtime/index.js";
import { insertGenerated, type GeneratedQueue } from "../runtime/generated.js";
import { createTestDatabase, type TestDatabase } from "./support/database.js";

type Queues = {
  userOnboarding: any;
  sendInvoice: { invoiceId: string; amountCents?: number };
  echo: any;
};

let db: TestDatabase;
let sidetrack: Sidetrack<Queues>;
let small: Sidetrack<Queues>;
const handled: Job[] = [];

beforeAll(async () => {
  db = await createTestDatabase("hostile");
  await runMigrations({ pool: db.pool });
  // A table an injection would love to drop, and a row it would love to delete.
  await db.pool.query("create table public.victim (id int primary key); insert into public.victim values (1)");
  const queues = {
    userOnboarding: {},
    sendInvoice: { uniqueBy: ["invoiceId"] as ["invoiceId"] },
    echo: { handler: (job: Job) => void handled.push(job) },
  };
  sidetrack = new Sidetrack<Queues>({ databaseUrl: db.url, queues });
  small = new Sidetrack<Queues>({ databaseUrl: db.url, queues, maxPayloadBytes: 256 });
});
afterAll(async () => {
  await sidetrack.close();
  await small.close();
});

/** Everything an injection or a half-written batch could change. */
async function snapshot() {
  const { rows } = await db.pool.query(
    `select (select count(*)::int from sidetrack.jobs) as jobs,
            (select count(*)::int from public.victim) as victims,
            to_regclass('sidetrack.jobs') is not null as jobs_table,
            to_regclass('sidetrack.migrations') is not null as migrations_table,
            to_regclass('public.victim') is not null as victim_table`,
  );
  return rows[0] as { jobs: number; victims: number; jobs_table: boolean; migrations_table: boolean; victim_table: boolean };
}

/** Expects a SidetrackValidationError naming the queue and the property, with nothing written. */
async function expectRefused(run: () => Promise<unknown>, queue: string | undefined, path: string | undefined, message?: RegExp) {
  const before = await snapshot();
  const error = await run().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected a refusal (${path})`).toBeInstanceOf(SidetrackValidationError);
  const e = error as SidetrackValidationError;
  if (queue !== undefined) {
    expect(e.queue).toBe(queue);
    expect(e.message).toContain(`"${queue}"`);
  }
  if (path !== undefined) {
    expect(e.path).toBe(path);
    expect(e.message).toContain(path);
  }
  if (message) expect(e.message).toMatch(message);
  expect(await snapshot()).toEqual(before);
  return e;
}

/**
 * Input PostgreSQL cannot store (NUL in text, lone UTF-16 surrogates, dates outside its range):
 * refused either up front (SidetrackValidationError naming the queue) or by PostgreSQL with a
 * data exception (SQLSTATE class 22) that rejects the insert's promise; either way nothing is
 * written and the pool stays usable.
 */
async function expectCleanRejection(run: () => Promise<unknown>, queue: string) {
  const before = await snapshot();
  const error = await run().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, "expected the insert to be rejected").toBeInstanceOf(Error);
  if (error instanceof SidetrackValidationError) {
    expect(error.queue).toBe(queue);
  } else {
    expect(error).toBeInstanceOf(pg.DatabaseError);
    // 22: data exception; 54: program limit exceeded (an over-long unique key).
    expect((error as pg.DatabaseError).code).toMatch(/^(22|54)/);
  }
  expect(await snapshot()).toEqual(before);
  // The pool is not left broken.
  expect((await sidetrack.listJobs({ limit: 1 })).length).toBeGreaterThanOrEqual(0);
  return error as Error;
}

const onboardingSchema: GeneratedQueue = {
  name: "userOnboarding",
  options: {},
  itemsOnly: false,
  payload: {
    type: "object",
    properties: {
      email: { type: "string" },
      plan: { type: "union", anyOf: [{ type: "literal", value: "free" }, { type: "literal", value: "pro" }] },
      tags: { type: "array", items: { type: "string" } },
      address: { type: "object", properties: { city: { type: "string" } } },
    },
    optional: ["plan", "tags", "address"],
  },
};

describe("payloads that fail validation", () => {
  const cases: [string, unknown, string, RegExp][] = [
    ["a missing property", {}, "payload.email", /is required \(a string\)/],
    ["a wrong type", { email: 42 }, "payload.email", /must be a string, got 42/],
    ["a wrong literal", { email: "a@x", plan: "gold" }, "payload.plan", /must be "free" \| "pro", got "gold"/],
    ["a wrong array item", { email: "a@x", tags: ["ok", 7] }, "payload.tags[1]", /must be a string, got 7/],
    ["a wrong nested property", { email: "a@x", address: { city: null } }, "payload.address.city", /must be a string, got null/],
    ["null", null, "payload", /must be an object, got null/],
    ["an array", [], "payload", /must be an object, got an array/],
    ["a string holding SQL", "'; drop table sidetrack.jobs; --", "payload", /must be an object/],
  ];
  it.each(cases)("refuses %s with the queue and property named", async (_, payload, path, message) => {
    await expectRefused(() => insertGenerated(db.pool, "sidetrack", onboardingSchema, [{ payload }]), "userOnboarding", path, message);
  });

  it("refuses a whole batch when one item fails, writing none of it", async () => {
    const items = Array.from({ length: 100 }, (_, i) => ({ payload: i === 57 ? { email: ["x"] } : { email: `u${i}@x` } }));
    await expectRefused(() => insertGenerated(db.pool, "sidetrack", onboardingSchema, items), "userOnboarding", "payload.email");
  });

  it("refuses a uniqueBy payload without the key's field", async () => {
    await expectRefused(() => sidetrack.insertJob("sendInvoice", {} as never), "sendInvoice", "payload.invoiceId", /required because the queue is uniqueBy/);
  });
});

describe("payloads over the size limit", () => {
  it("refuses a payload over the default 1 MiB and accepts one of exactly 1 MiB", async () => {
    const limit = 1024 * 1024;
    const over = { blob: "x".repeat(limit) };
    const e = await expectRefused(() => sidetrack.insertJob("echo", over), "echo", "payload", /over the limit of 1048576 \(maxPayloadBytes\)/);
    expect(e.message).toContain(`is ${Buffer.byteLength(JSON.stringify(over))} bytes`);
    // {"blob":"…"} is 11 bytes of JSON around the string.
    const exact = { blob: "x".repeat(limit - 11) };
    expect(Buffer.byteLength(JSON.stringify(exact))).toBe(limit);
    const job = await sidetrack.insertJob("echo", exact);
    expect((await sidetrack.getJob(job.id))?.payload).toEqual(exact);
    await sidetrack.cancelJob(job.id);
  });

  it("counts UTF-8 bytes, not characters, against a configured limit", async () => {
    // 😀 is one code point, two UTF-16 units and four UTF-8 bytes.
    const fits = { s: "😀".repeat(61) }; // 8 + 244 = 252 bytes
    const over = { s: "😀".repeat(63) }; // 8 + 252 = 260 bytes, though only 134 UTF-16 units
    expect(Buffer.byteLength(JSON.stringify(fits))).toBeLessThanOrEqual(256);
    expect(Buffer.byteLength(JSON.stringify(over))).toBeGreaterThan(256);
    expect(JSON.stringify(over).length).toBeLessThan(256);
    await expectRefused(() => small.insertJob("echo", over), "echo", "payload", /over the limit of 256 \(maxPayloadBytes\)/);
    const job = await small.insertJob("echo", fits);
    expect((await small.getJob(job.id))?.payload).toEqual(fits);
    await small.cancelJob(job.id);
  });

  it("refuses a batch holding one oversized payload, writing none of it", async () => {
    const items = Array.from({ length: 20 }, (_, i) => (i === 13 ? { s: "y".repeat(300) } : { s: `ok ${i}` }));
    await expectRefused(() => small.insertJobs("echo", items), "echo", "payload", /maxPayloadBytes/);
  });
});

describe("values that are not JSON", () => {
  class Money {
    cents = 1;
  }
  const circular: Record<string, unknown> = { a: 1 };
  circular.self = circular;
  const cases: [string, unknown, string, RegExp][] = [
    ["undefined", undefined, "payload", /is undefined/],
    ["a function", { f: () => 1 }, "payload.f", /is a function/],
    ["a symbol", { s: Symbol("x") }, "payload.s", /is a symbol/],
    ["a bigint", { n: 10n }, "payload.n", /is a bigint/],
    ["NaN", { n: Number.NaN }, "payload.n", /is NaN/],
    ["Infinity", { n: Number.POSITIVE_INFINITY }, "payload.n", /is Infinity/],
    ["-Infinity", { n: Number.NEGATIVE_INFINITY }, "payload.n", /is -Infinity/],
    ["a Date", { when: new Date() }, "payload.when", /is a Date object/],
    ["a Map", { m: new Map() }, "payload.m", /is a Map object/],
    ["a Set", { m: new Set([1]) }, "payload.m", /is a Set object/],
    ["a RegExp", { r: /x/ }, "payload.r", /is a RegExp object/],
    ["a Buffer", { b: Buffer.from("x") }, "payload.b", /is a Buffer object/],
    ["a class instance", { price: new Money() }, "payload.price", /is a Money object/],
    ["a boxed string", { s: new String("x") }, "payload.s", /is a String object/],
    ["undefined in an array", { items: [1, undefined] }, "payload.items[1]", /is undefined/],
    ["a deeply nested Date", { items: [{}, {}, { when: new Date() }] }, "payload.items[2].when", /is a Date object/],
    ["a bad value under an odd key", { "'; drop table x; --": () => 1 }, `payload["'; drop table x; --"]`, /is a function/],
    ["a circular reference", circular, "payload.self", /is a circular reference/],
  ];
  it.each(cases)("refuses %s, naming the property", async (_, payload, path, message) => {
    await expectRefused(() => sidetrack.insertJob("echo", payload), "echo", path, message);
  });

  it("refuses a batch with one non-JSON item in the middle, writing none of it", async () => {
    const items = Array.from({ length: 50 }, (_, i) => (i === 25 ? { at: new Date() } : { i }));
    await expectRefused(() => sidetrack.insertJobs("echo", items), "echo", "payload.at");
  });

  it("stores the odd but valid: a null-prototype object, huge and tiny numbers, keys like __proto__", async () => {
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1 });
    const payload = JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": 1}, "big": 1e308, "tiny": 5e-324, "neg": -1.5e-7, "max": 9007199254740991}');
    for (const p of [bare, payload, 0, "", true, [], [null]]) {
      const job = await sidetrack.insertJob("echo", p);
      expect((await sidetrack.getJob(job.id))?.payload).toEqual(p);
      await sidetrack.cancelJob(job.id);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  // jsonb_to_recordset reads a JSON null as SQL NULL; the insert statement coalesces it back.
  it("stores a top-level null payload", async () => {
    const job = await sidetrack.insertJob("echo", null);
    expect((await sidetrack.getJob(job.id))?.payload).toBeNull();
  });
});

describe("invalid queue and schema names", () => {
  const badQueues = ["", "1queue", "bad name", "a-b", "x;drop table y", "'; drop table sidetrack.jobs; --", '"quoted"', "queue\u00e9", "a".repeat(101), "tab\there"];
  it.each(badQueues)("refuses the queue name %j", (name) => {
    expect(() => new Sidetrack<any>({ databaseUrl: db.url, queues: { [name]: {} } })).toThrow(SidetrackValidationError);
    expect(() => new Sidetrack<any>({ databaseUrl: db.url, queues: { [name]: {} } })).toThrow(`invalid queue name ${JSON.stringify(name)}`);
  });

  it("accepts the longest valid queue name", () => {
    expect(() => new Sidetrack<any>({ databaseUrl: db.url, queues: { ["q".repeat(100)]: {} } })).not.toThrow();
  });

  it("refuses inserts, lists and runs for queues it does not know, without touching the database", async () => {
    const hostile = "'; drop table sidetrack.jobs; --";
    await expectRefused(() => sidetrack.insertJob(hostile as never, {} as never), hostile, undefined, /unknown queue/);
    await expectRefused(() => sidetrack.insertJobs(hostile as never, [{}] as never), hostile, undefined, /unknown queue/);
    await expectRefused(() => sidetrack.listJobs({ queue: hostile as never }), hostile, undefined, /unknown queue/);
    await expectRefused(() => sidetrack.runJobs({ queue: hostile as never }), hostile, undefined, /unknown queue/);
    await expectRefused(() => sidetrack.insertJob("toString" as never, {} as never), "toString", undefined, /unknown queue/);
  });

  const badSchemas = ["", "1abc", "sp ace", 'x"; drop schema public cascade; --', "a".repeat(41), "a.b", "schéma"];
  it.each(badSchemas)("refuses the schema name %j", async (schema) => {
    expect(() => new Sidetrack<any>({ databaseUrl: db.url, schema, queues: { q: {} } })).toThrow(`invalid schema name ${JSON.stringify(schema)}`);
    const before = await snapshot();
    await expect(runMigrations({ pool: db.pool, schema })).rejects.toThrow(SidetrackValidationError);
    expect(await snapshot()).toEqual(before);
  });
});

describe("invalid dates, delays and options", () => {
  const cases: [string, Record<string, unknown>, string, RegExp][] = [
    ["an Invalid Date", { runAt: new Date("not a date") }, "options.runAt", /must be a valid Date, got Invalid Date/],
    ["a date string", { runAt: "2030-01-01" }, "options.runAt", /must be a valid Date, got "2030-01-01"/],
    ["a number for runAt", { runAt: 1_700_000_000_000 }, "options.runAt", /must be a valid Date/],
    ["a SQL string for runAt", { runAt: "now()); drop table victim; --" }, "options.runAt", /must be a valid Date/],
    ["an invalid scheduledAt", { scheduledAt: new Date(Number.NaN) }, "options.scheduledAt", /must be a valid Date/],
    ["runAt and scheduledAt", { runAt: new Date(), scheduledAt: new Date() }, "options", /both runAt and scheduledAt/],
    ["runAt and delay", { runAt: new Date(), delay: 5 }, "options", /both runAt and delay/],
    ["a negative delay", { delay: -1 }, "options.delay", /must not be negative/],
    ["a NaN delay", { delay: Number.NaN }, "options.delay", /non-negative number of milliseconds, got NaN/],
    ["an infinite delay", { delay: Number.POSITIVE_INFINITY }, "options.delay", /got Infinity/],
    ["an unknown unit", { delay: "10 years" }, "options.delay", /like "500ms"/],
    ["a negative duration string", { delay: "-5s" }, "options.delay", /like "500ms"/],
    ["an exponent", { delay: "1e3s" }, "options.delay", /like "500ms"/],
    ["SQL as a delay", { delay: "1s'; drop table victim; --" }, "options.delay", /like "500ms"/],
    ["null as a delay", { delay: null }, "options.delay", /got null/],
    ["a fractional priority", { priority: 1.5 }, "options.priority", /must be an integer, got 1.5/],
    ["a string priority", { priority: "5" }, "options.priority", /must be an integer, got "5"/],
    ["a priority beyond int4", { priority: 2 ** 31 }, "options.priority", /must be an integer/],
    ["zero maxAttempts", { maxAttempts: 0 }, "options.maxAttempts", /at least 1, got 0/],
    ["NaN maxAttempts", { maxAttempts: Number.NaN }, "options.maxAttempts", /at least 1, got NaN/],
    ["an empty uniqueKey", { uniqueKey: "" }, "options.uniqueKey", /non-empty string, got ""/],
    ["a numeric uniqueKey", { uniqueKey: 42 }, "options.uniqueKey", /non-empty string, got 42/],
  ];
  it.each(cases)("refuses %s", async (_, options, path, message) => {
    await expectRefused(() => sidetrack.insertJob("echo", { ok: true }, options as never), "echo", path, message);
  });

  it("refuses a batch where one item has a bad option, writing none of it", async () => {
    const items = Array.from({ length: 30 }, (_, i) => ({ payload: { i }, options: i === 29 ? { delay: "soon" } : { delay: "1s" } }));
    await expectRefused(() => sidetrack.insertJobs("echo", items as never, { withOptions: true }), "echo", "options.delay");
  });

  it("rejects dates and delays outside PostgreSQL's range cleanly, writing nothing", async () => {
    for (const options of [
      { runAt: new Date(Date.UTC(10000, 0, 1)) },
      { runAt: new Date(8.64e15) },
      { runAt: new Date(-8.64e15) },
      { runAt: new Date("-000001-01-01T00:00:00Z") },
      { delay: 1e20 },
      { delay: "100000000000d" as const },
    ]) {
      await expectCleanRejection(() => sidetrack.insertJob("echo", { ok: true }, options), "echo");
    }
  });

  it("refuses bad list filters and treats hostile ids as ids that do not exist", async () => {
    await expectRefused(() => sidetrack.listJobs({ status: "completed' or '1'='1" as never }), undefined, undefined, /unknown status/);
    await expectRefused(() => sidetrack.listJobs({ limit: 0 }), undefined, undefined, /limit must be a positive integer/);
    const before = await snapshot();
    for (const id of ["1; drop table sidetrack.jobs", "' or 1=1 --", "1 or 1=1", "-1", "1e3", "99999999999999999999", "", " 1", "٣"]) {
      expect(await sidetrack.getJob(id)).toBeUndefined();
      expect(await sidetrack.cancelJob(id)).toBe(false);
      expect(await sidetrack.runJob(id)).toBeUndefined();
    }
    // A non-numeric page cursor is a data error from PostgreSQL, not a query.
    await expect(sidetrack.listJobs({ afterId: "0) or (1=1" })).rejects.toThrow(/listJobs: afterId must be a job id \(digits\), got "0\) or \(1=1"/);
    expect(await snapshot()).toEqual(before);
  });
});

// Strings that break naive SQL, JSON or Unicode handling. None contains NUL or a lone surrogate
// (PostgreSQL's text and jsonb cannot hold those: see the next block).
const corpus: Record<string, string> = {
  dropTable: "'; drop table sidetrack.jobs; --",
  deleteAll: "') or ('1'='1'); delete from sidetrack.jobs; --",
  dropVictim: "x'); drop table public.victim; --",
  placeholder: "$1",
  castPlaceholder: "$2::text",
  dollarQuote: "$$; drop table public.victim; $$",
  taggedDollarQuote: "$tag$ drop table public.victim $tag$",
  backslash: "\\",
  backslashQuote: "\\'",
  escapedNulText: "\\u0000",
  escapeString: "E'\\x41\\n'",
  doubleQuotes: '" or ""="',
  identifier: '"sidetrack"."jobs"',
  template: "${jobs}",
  format: "%s %n %x",
  concat: "' || pg_sleep(10) || '",
  comment: "/* */ -- ",
  semicolons: ";;;",
  jsonInjection: '", "status": "completed", "x": "',
  jsonPath: "$.payload[*] ? (@ == 1)",
  whitespace: " \r\n\t\u000b\f ",
  controls: "\u0001\u0002\u001b[31m\u001f\u007f\u0085",
  emoji: "😀👩‍👩‍👧‍👦🏳️‍🌈🇩🇪",
  rtlMarks: "\u200fשלום\u200f \u202eevil.exe\u202c",
  arabic: "مرحبا بالعالم",
  combining: "e\u0301 Z\u0324\u0354\u0367\u0311\u0313a\u0308\u0356\u032d\u0308\u0307",
  nfc: "\u00e9",
  nfd: "e\u0301",
  bom: "\ufeffbom",
  lineSeparators: "a\u2028b\u2029c",
  zeroWidth: "a\u200bb\u200cc\u200dd\u2060e",
  astral: "𝕏𝔂𝟘 \u{10ffff} \u{1f600}",
  nonCharacters: "\ufffe\uffff\ufdd0",
  cjk: "漢字かなカナ한국어",
  longSql: `${"' or 1=1; ".repeat(100)}--`,
};

describe("SQL and odd Unicode as data", () => {
  it("stores every corpus string in payloads (values and keys) and unique keys, and reads it back byte for byte", async () => {
    const before = await snapshot();
    const entries = Object.entries(corpus);
    const payloadOf = (name: string, s: string) => ({ name, s, [s]: s, nested: [s, { k: s }] });
    const jobs = await sidetrack.insertJobs(
      "echo",
      entries.map(([name, s]) => ({ payload: payloadOf(name, s), options: { uniqueKey: s } })),
      { withOptions: true },
    );
    expect(jobs.map((j) => j.duplicate)).toEqual(entries.map(() => false));
    // NFC and NFD "é" are different strings, so different keys: PostgreSQL normalizes nothing.
    expect(new Set(jobs.map((j) => j.uniqueKey)).size).toBe(entries.length);

    for (const [i, [name, s]] of entries.entries()) {
      const expected = payloadOf(name, s);
      const job = jobs[i]!;
      expect(job.payload, name).toEqual(expected);
      const read = await sidetrack.getJob(job.id);
      expect(read?.payload, name).toEqual(expected);
      expect(read?.uniqueKey, name).toBe(s);
      // The raw column values, as PostgreSQL holds them.
      const { rows } = await db.pool.query<{ s: string; key_text: string; nested: string; unique_key: string; raw: string; same: boolean }>(
        `select payload->>'s' as s, payload->>$2 as key_text, payload#>>'{nested,1,k}' as nested, unique_key, payload::text as raw,
                payload = $3::jsonb as same
         from sidetrack.jobs where id = $1`,
        [job.id, s, JSON.stringify(expected)],
      );
      const row = rows[0]!;
      for (const value of [row.s, row.key_text, row.nested, row.unique_key]) {
        expect(Buffer.from(value, "utf8").equals(Buffer.from(s, "utf8")), name).toBe(true);
      }
      expect(JSON.parse(row.raw), name).toEqual(expected);
      expect(row.same, name).toBe(true);
    }

    // A second insert with the same key finds the job: the key compared exactly.
    const again = await sidetrack.insertJob("echo", { again: true }, { uniqueKey: corpus.dropTable });
    expect(again).toMatchObject({ duplicate: true, id: jobs[0]!.id });

    // uniqueBy derives the key from the payload: the same strings, stored as data.
    for (const s of Object.values(corpus)) {
      const a = await sidetrack.insertJob("sendInvoice", { invoiceId: s });
      const b = await sidetrack.insertJob("sendInvoice", { invoiceId: s, amountCents: 1 });
      expect(a.uniqueKey).toBe(JSON.stringify([s]));
      expect(b).toMatchObject({ duplicate: true, id: a.id });
    }

    // Handlers get the same payloads.
    await sidetrack.runJobs({ queue: "echo" });
    const seen = new Map(handled.map((j) => [j.id, j.payload]));
    for (const [i, [name, s]] of entries.entries()) expect(seen.get(jobs[i]!.id), name).toEqual(payloadOf(name, s));

    // Nothing executed: every table and row is still there, and only our jobs were added.
    const after = await snapshot();
    expect(after).toMatchObject({ jobs_table: true, migrations_table: true, victim_table: true, victims: 1 });
    expect(after.jobs).toBe(before.jobs + entries.length + Object.keys(corpus).length);
  });

  it("lists and cancels jobs whose data is hostile without harm", async () => {
    const job = await sidetrack.insertJob("userOnboarding", { email: corpus.dropTable }, { uniqueKey: corpus.dollarQuote });
    const listed = await sidetrack.listJobs({ queue: "userOnboarding" });
    expect(listed.find((j) => j.id === job.id)?.payload).toEqual({ email: corpus.dropTable });
    expect(await sidetrack.cancelJob(job.id)).toBe(true);
    expect(await snapshot()).toMatchObject({ jobs_table: true, victim_table: true, victims: 1 });
  });
});

describe("strings PostgreSQL cannot hold: NUL, lone surrogates, over-long keys", () => {
  // jsonb refuses \u0000 (22P05) and unpaired surrogates (22P02). JSON.stringify escapes lone
  // surrogates, so they never reach the database as U+FFFD: the insert fails instead of
  // silently corrupting the text.
  const bad: [string, unknown, Record<string, unknown>][] = [
    ["NUL in a value", { s: "a\u0000b" }, {}],
    ["NUL in a key", { ["k\u0000"]: 1 }, {}],
    ["a lone high surrogate", { s: "x\ud800y" }, {}],
    ["a lone low surrogate", { s: "\udc00" }, {}],
    ["a reversed pair", { s: "\ude00\ud83d" }, {}],
    ["a lone surrogate in a key", { ["\ud800"]: 1 }, {}],
    ["NUL in a unique key", { ok: true }, { uniqueKey: "key\u0000" }],
    ["a lone surrogate in a unique key", { ok: true }, { uniqueKey: "key\ud800" }],
  ];
  it.each(bad)("rejects %s cleanly, writing nothing", async (_, payload, options) => {
    await expectCleanRejection(() => sidetrack.insertJob("echo", payload, options), "echo");
  });

  it("rejects a unique key too long for the unique index cleanly, writing nothing", async () => {
    // Random text does not compress: PostgreSQL's btree refuses entries over ~2.7 kB.
    const key = randomBytes(6_000).toString("base64");
    await expectCleanRejection(() => sidetrack.insertJob("echo", { ok: true }, { uniqueKey: key }), "echo");
  });

  it("rejects a batch with one such string, writing none of it, and stays usable", async () => {
    const items = Array.from({ length: 40 }, (_, i) => (i === 39 ? { s: "tail\u0000" } : { s: `fine ${i}` }));
    await expectCleanRejection(() => sidetrack.insertJobs("echo", items), "echo");
    const ok = await sidetrack.insertJob("echo", { s: "after" });
    expect((await sidetrack.getJob(ok.id))?.payload).toEqual({ s: "after" });
  });

  it("inside the caller's transaction, the failed insert leaves nothing once it rolls back", async () => {
    const before = await snapshot();
    const client = await db.pool.connect();
    try {
      await client.query("begin");
      await sidetrack.insertJob("echo", { s: "in the same transaction" }, { dbClient: usePg(client) });
      await expect(sidetrack.insertJob("echo", { s: "\ud800" }, { dbClient: usePg(client) })).rejects.toBeInstanceOf(Error);
      await client.query("rollback");
    } finally {
      client.release();
    }
    expect(await snapshot()).toEqual(before);
  });
});
