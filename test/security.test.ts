// Security: identifiers are validated and quoted, every value a caller controls travels as a
// query parameter (never in the SQL text), and connection passwords never show up in logs,
// errors or output.
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { inspect } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { queueStatus, retryJob, retryJobs, runMigrations, Sidetrack, type DbClient, type Logger } from "../runtime/index.js";
import { knownQueues, queueHasJobs } from "../runtime/client/admin.js";
import { insertGenerated } from "../runtime/generated.js";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "../scripts/embedded-postgres.js";
import { createTestDatabase, quiet, type TestDatabase } from "./support/database.js";
import { nextEvent } from "./support/events.js";

const runtimeDir = fileURLToPath(new URL("../runtime/", import.meta.url));

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase("security");
});

// ---------------------------------------------------------------------------------------------
// Values are parameters
// ---------------------------------------------------------------------------------------------

interface Call {
  text: string;
  values: unknown[];
}

/** A pool whose every client records each statement it sends: text and values. */
function recordingPool(url: string, calls: Call[]): pg.Pool {
  class RecordingClient extends pg.Client {
    override query(...args: unknown[]): any {
      const [config, values] = args as [string | { text: string; values?: unknown[] }, unknown];
      const text = typeof config === "string" ? config : config.text;
      calls.push({ text, values: Array.isArray(values) ? values : typeof config === "object" ? (config.values ?? []) : [] });
      return (super.query as (...a: unknown[]) => unknown)(...args);
    }
  }
  const pool = new pg.Pool({ connectionString: url, max: 6, Client: RecordingClient as unknown as typeof pg.Client });
  pool.on("error", () => undefined);
  return pool;
}

/** A DbClient (what usePg/usePrisma return) that records each (text, values). */
function recordingDbClient(pool: pg.Pool, calls: Call[]): DbClient {
  return {
    sidetrackDbClient: true,
    async query<Row>(text: string, values: readonly unknown[] = []) {
      calls.push({ text, values: [...values] });
      return (await pool.query(text, values as unknown[])).rows as Row[];
    },
  };
}

describe("every user value is a parameter", () => {
  // Marker values for every field a caller controls. None may ever appear in SQL text.
  const M = {
    queue: "qMarkerQueue7f3a" as const,
    payloadKey: "kMarkerKey9b1",
    payloadValue: "vMarkerValue9b1",
    payloadQuote: "vMarker'Quote\"; drop table victim; --",
    uniqueKey: "uMarkerUnique41",
    uniqueByValue: "iMarkerInvoice5e",
    priority: 91357,
    maxAttempts: 86421,
    runAt: new Date("2031-07-13T11:22:33.444Z"),
    delay: 73519,
    workerId: "wMarkerWorker55",
    errorMessage: "eMarkerError66",
    listLimit: 4321,
    completedWithin: 5550111,
    retention: 6173009,
    lease: 2345,
  };
  const ID_BASE = 987654321000;
  const markerTexts = [
    M.queue,
    M.payloadKey,
    M.payloadValue,
    "vMarker'Quote",
    M.uniqueKey,
    M.uniqueByValue,
    String(M.priority),
    String(M.maxAttempts),
    "2031-07-13",
    String(M.delay),
    M.workerId,
    M.errorMessage,
    String(M.listLimit),
    String(M.completedWithin),
    String(M.retention),
    String(M.lease),
    String(ID_BASE).slice(0, 9),
  ];
  const schema = "sec_schema";
  const calls: Call[] = [];
  let pool: pg.Pool;

  beforeAll(async () => {
    pool = recordingPool(db.url, calls);
    await runMigrations({ pool, schema });
    // Job ids far from any number the SQL text could contain, so ids count as markers too.
    await db.pool.query(`alter table ${schema}.jobs alter column id restart with ${ID_BASE}`);
  });
  afterAll(() => pool.end());

  it("runs insert, read, list, cancel, fetch, complete, fail, retry, lease, rescue and admin paths without a marker in any SQL text", async () => {
    type Queues = { qMarkerQueue7f3a: Record<string, unknown>; invoiceQ: { invoiceId: string } };
    let failNext = true;
    let release: (() => void) | undefined;
    const sidetrack = new Sidetrack<Queues>({
      databaseOptions: { pool },
      schema,
      workerId: M.workerId,
      leaseDuration: M.lease,
      pollInterval: 50,
      rescueInterval: 50,
      retention: { completed: M.retention },
      handleSignals: false,
      concurrency: 4,
      queues: {
        qMarkerQueue7f3a: {
          maxAttempts: M.maxAttempts,
          backoff: { base: 1, max: 2 },
          handler: async (job, { signal }) => {
            if (job.payload.hold) {
              await new Promise<void>((resolve) => {
                release = resolve;
                signal.addEventListener("abort", () => resolve());
              });
              return;
            }
            if (failNext) {
              failNext = false;
              throw new Error(M.errorMessage);
            }
          },
        },
        invoiceQ: { uniqueBy: ["invoiceId"] },
      },
    });
    const recorded = recordingDbClient(pool, calls);
    const payload = { [M.payloadKey]: M.payloadValue, quote: M.payloadQuote, nested: [M.payloadValue] };

    // Inserts, through the pool and through a caller's DbClient, with every option set.
    const a = await sidetrack.insertJob(M.queue, payload, { priority: M.priority, maxAttempts: M.maxAttempts, uniqueKey: M.uniqueKey });
    const b = await sidetrack.insertJob(M.queue, payload, { runAt: M.runAt, dbClient: recorded });
    const [c] = await sidetrack.insertJobs(M.queue, [{ payload, options: { delay: M.delay } }], { withOptions: true, dbClient: recorded });
    await sidetrack.insertJob("invoiceQ", { invoiceId: M.uniqueByValue });
    await insertGenerated(recorded, schema, { name: M.queue, options: { priority: M.priority }, payload: { type: "json" }, itemsOnly: false }, [
      { payload, options: { uniqueKey: `${M.uniqueKey}-2` } },
    ]);
    expect(a.id.startsWith(String(ID_BASE).slice(0, 9))).toBe(true);

    // Reads and cancels.
    expect((await sidetrack.getJob(a.id, { dbClient: recorded }))?.payload).toEqual(payload);
    await sidetrack.listJobs({ queue: M.queue, status: "scheduled", limit: M.listLimit, afterId: String(ID_BASE) });
    expect(await sidetrack.cancelJob(b.id, { dbClient: recorded })).toBe(true);
    expect(await sidetrack.cancelJob(c!.id)).toBe(true);

    // The worker: fetch, fail (error message as data), retry, complete, heartbeat, cancel of a running job.
    await sidetrack.start();
    await expect.poll(async () => (await sidetrack.getJob(a.id))?.status, { timeout: 30_000 }).toBe("completed");
    const held = await sidetrack.insertJob(M.queue, { hold: true, [M.payloadKey]: M.payloadValue });
    await expect.poll(() => release !== undefined, { timeout: 30_000 }).toBe(true);
    // Hold it until a heartbeat has renewed its lease.
    await expect.poll(() => calls.some((call) => /set locked_until = now\(\) \+ \$3/.test(call.text)), { timeout: 30_000 }).toBe(true);
    const cancelled = nextEvent(sidetrack, "job:cancelled", (job) => job.id === held.id);
    expect(await sidetrack.cancelJob(held.id)).toBe(true);
    await cancelled;
    await sidetrack.stop({ grace: 0 });

    // A job left running by a "dead" worker, for the rescuer, then the test helpers.
    const orphan = await sidetrack.insertJob(M.queue, payload);
    await db.pool.query(`update ${schema}.jobs set status = 'running', locked_by = $2, locked_until = now() - interval '1 hour', attempt = 1 where id = $1`, [
      orphan.id,
      `${M.workerId}-dead`,
    ]);
    const rescuer = new Sidetrack<Queues>({
      databaseOptions: { pool },
      schema,
      workerId: `${M.workerId}-2`,
      handleSignals: false,
      rescueInterval: 50,
      pollInterval: 50,
      queues: { qMarkerQueue7f3a: { handler: () => undefined }, invoiceQ: { handler: () => undefined } },
    });
    await rescuer.start();
    await expect.poll(async () => (await rescuer.getJob(orphan.id))?.status, { timeout: 30_000 }).toBe("completed");
    await rescuer.stop({ grace: 0 });
    const inline = await sidetrack.insertJob(M.queue, payload, { runAt: M.runAt });
    await sidetrack.runJob(inline.id);
    await sidetrack.insertJob(M.queue, payload, { delay: M.delay });
    await sidetrack.runJobs({ queue: M.queue, includeFutureJobs: true });

    // Operator functions.
    await queueStatus(recorded, { schema, queue: M.queue, completedWithinMs: M.completedWithin });
    await knownQueues(recorded, { schema });
    await queueHasJobs(recorded, M.queue, { schema });
    await retryJob(recorded, b.id, { schema });
    await retryJobs(recorded, { schema, queue: M.queue, status: "cancelled", batchSize: 3 });

    // Every statement sent: no marker in the text; the markers did travel, as values.
    expect(calls.length).toBeGreaterThan(20);
    const offending = (list: Call[]) => list.filter((call) => markerTexts.some((m) => call.text.toLowerCase().includes(m.toLowerCase())));
    expect(offending(calls).map((call) => call.text)).toEqual([]);
    // (A statement built by concatenation would have been caught.)
    expect(offending([{ text: `select * from jobs where queue = '${M.queue}'`, values: [] }])).toHaveLength(1);
    // Job ids are parameters too.
    const ids = [a.id, b.id, c!.id, held.id, orphan.id, inline.id];
    expect(calls.filter((call) => ids.some((id) => call.text.includes(id)))).toEqual([]);
    const allValues = JSON.stringify(calls.map((call) => call.values));
    for (const m of [M.queue, M.payloadKey, M.payloadValue, M.uniqueKey, M.uniqueByValue, M.workerId, M.errorMessage, a.id, String(M.completedWithin)]) {
      expect(allValues, m).toContain(m);
    }
    // The schema, an identifier, is in the text: always quoted.
    const withSchema = calls.filter((call) => call.text.includes(schema));
    expect(withSchema.length).toBeGreaterThan(0);
    for (const call of withSchema) expect(call.text.replaceAll(`"${schema}"`, "").replaceAll(`sidetrack_jobs_${schema}`, "").replaceAll(`sidetrack_cancel_${schema}`, "").replaceAll(`sidetrack_pause_${schema}`, "")).not.toContain(schema);
    // Nothing a payload said was executed.
    expect((await db.pool.query(`select count(*)::int as n from ${schema}.jobs`)).rows[0].n).toBeGreaterThan(0);
  });
});

/** A source file without its comments (which may quote SQL or name functions freely). */
function code(file: string): string {
  return readFileSync(file, "utf8")
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/^\s*\/\/.*$/gm, "");
}

describe("SQL builders interpolate only quoted identifiers", () => {
  const sqlDir = join(runtimeDir, "db", "sql");
  const files = readdirSync(sqlDir).filter((f) => f.endsWith(".ts"));
  // Constant SQL fragments exported anywhere in runtime/ (e.g. a column list): template literals
  // without any interpolation, so nothing a caller passes can be in them.
  // And numeric constants of runtime/config/defaults.ts (a claim's bound), which no caller sets.
  const fragments = new Set([
    ...walk(runtimeDir).flatMap((f) => [...code(f).matchAll(/export const ([A-Z][A-Z0-9_]*) = `([^`]*)`/g)].filter((m) => !m[2]!.includes("${")).map((m) => m[1]!)),
    ...[...code(join(runtimeDir, "config", "defaults.ts")).matchAll(/export const ([A-Z][A-Z0-9_]*) = [\d_]+;/g)].map((m) => m[1]!),
  ]);

  it.each(files)("runtime/db/sql/%s", (file) => {
    expect(sqlBuilderProblems(code(join(sqlDir, file)), fragments)).toEqual([]);
  });

  it("the scan itself catches a builder that takes or interpolates a value", () => {
    const bad = [
      "export function byQueueSql(schema: string, queue: string): string {",
      "  return `select * from ${quoteIdent(schema)}.jobs where queue = '${queue}'`;",
      "}",
      "export function byIdSql(schema: string): string {",
      "  const jobs = `${quoteIdent(schema)}.jobs`;",
      "  return `select * from ${jobs} where id = ${String(globalThis.id)} and ${jobJson(alias)}`;",
      "}",
      "function partsSql(schema: string, id: string): string {",
      "  const where = id ? `where id = ${id}` : \"\";",
      "  const bound = id;",
      "  return `select * from jobs ${where} ${bound} limit ${LIMIT}`;",
      "}",
    ].join("\n");
    expect(sqlBuilderProblems(bad, fragments)).toEqual([
      "byQueueSql(schema: string, queue: string) takes something other than the schema",
      "${queue} is not a quoted identifier",
      "${String(globalThis.id)} is not a quoted identifier",
      "${jobJson(alias)} is not a quoted identifier",
      "${id} is not a quoted identifier",
      "${bound} is not a quoted identifier",
      "${LIMIT} is not a quoted identifier",
    ]);
  });

  it("row-to-JSON fragments are only ever given literal aliases", () => {
    const all = walk(runtimeDir).map((f) => [f, code(f)] as const);
    for (const [file, source] of all) {
      for (const m of source.matchAll(/\b(\w+Json)\(([^)]*)\)/g)) {
        if (/function\s*$/.test(source.slice(0, m.index))) continue; // the definition
        const arg = m[2]!.trim();
        if (arg === "alias: string") continue;
        expect(arg, `${file}: ${m[0]}`).toMatch(/^"[a-z_]+"$/);
      }
    }
  });

  it("queries built elsewhere in runtime/ interpolate only quoted identifiers", () => {
    for (const file of walk(runtimeDir).filter((f) => !f.includes(`${join("runtime", "db", "sql")}`))) {
      const source = code(file);
      const quoted = new Set([
        ...[...source.matchAll(/const (\w+) = quoteIdent\([^)]*\);/g)].map((m) => m[1]!),
        ...[...source.matchAll(/const (\w+) = `\$\{quoteIdent\([^)]*\)\}\.\w+`;/g)].map((m) => m[1]!),
      ]);
      // Template literals handed straight to query(…)
      for (const m of source.matchAll(/\.query(?:<[^>]*>)?\(\s*`([^`]*)`/g)) {
        for (const e of m[1]!.matchAll(/\$\{([^}]*)\}/g)) {
          const expression = e[1]!.trim();
          const ok = /^quoteIdent\([^)]*\)$/.test(expression) || quoted.has(expression);
          expect(ok, `${file}: query text interpolates \${${expression}}`).toBe(true);
        }
      }
    }
  });
});

/** What is wrong with a file of SQL builders: parameters other than the schema, interpolations other than quoted identifiers. */
function sqlBuilderProblems(source: string, fragments: Set<string>): string[] {
  const problems: string[] = [];
  // Table names bound in the file: const jobs = `${quoteIdent(schema)}.jobs`
  const tables = new Set([...source.matchAll(/const (\w+) = `\$\{quoteIdent\(schema\)\}\.\w+`;/g)].map((m) => m[1]!));
  // Parts of a statement bound in the file, whole or under a condition with nothing otherwise:
  // const perKeyCtes = perKey ? `…` : "". What they interpolate is checked below like the rest.
  const parts = new Set([...source.matchAll(/const (\w+) = (?:\w+\s*\?\s*`[^`]*`\s*:\s*""|`[^`]*`);/g)].map((m) => m[1]!));
  // SQL builders take the schema (or, for row-to-JSON fragments, a table alias), never a value.
  for (const m of source.matchAll(/export function (\w+)\(([^)]*)\)/g)) {
    const [, name, params] = m;
    const allowed = /Json$/.test(name!) ? ["alias: string"] : ["schema: string", ""];
    if (!allowed.includes(params!.trim())) problems.push(`${name}(${params}) takes something other than the schema`);
  }
  for (const m of source.matchAll(/\$\{([^}]*)\}/g)) {
    const expression = m[1]!.trim();
    const ok =
      expression === "quoteIdent(schema)" ||
      tables.has(expression) ||
      parts.has(expression) ||
      fragments.has(expression) ||
      // a choice between two constant fragments: `perKey ? PICK_PER_KEY : PICK_IN_ORDER`
      ((c) => c !== null && fragments.has(c[1]!) && fragments.has(c[2]!))(/^\w+ \? ([A-Z][A-Z0-9_]*) : ([A-Z][A-Z0-9_]*)$/.exec(expression)) ||
      /^\w+Json\("[a-z_]+"\)$/.test(expression) || // jobJson("j"), cronScheduleJson("c"): a literal alias
      (expression === "alias" && /export function \w+Json\(alias: string\)/.test(source));
    if (!ok) problems.push(`\${${expression}} is not a quoted identifier`);
  }
  return problems;
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? walk(join(dir, entry.name)) : entry.name.endsWith(".ts") ? [join(dir, entry.name)] : [],
  );
}

// ---------------------------------------------------------------------------------------------
// Passwords stay secret
// ---------------------------------------------------------------------------------------------

/** Everything a failure could show a human: message, stack, properties, causes, JSON. */
function exposed(value: unknown): string {
  let json = "";
  try {
    json = JSON.stringify(value) ?? "";
  } catch {
    // circular: inspect covers it
  }
  return [String(value), (value as Error)?.stack ?? "", inspect(value, { depth: 6, showHidden: true }), json].join("\n");
}

/** Captures the logger, console and the process's own stdout/stderr while `fn` runs. */
async function capture<T>(fn: (logger: Logger) => Promise<T>): Promise<{ result: T; output: string }> {
  const lines: string[] = [];
  const push = (level: string) => (message: string, meta?: Record<string, unknown>) => void lines.push(`${level} ${message} ${meta ? inspect(meta) : ""}`);
  const logger: Logger = { debug: push("debug"), info: push("info"), warn: push("warn"), error: push("error") };
  const outWrite = process.stdout.write.bind(process.stdout);
  const errWrite = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((chunk: unknown, ...rest: unknown[]) => {
    lines.push(String(chunk));
    return (outWrite as (...a: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stdout.write;
  process.stderr.write = ((chunk: unknown, ...rest: unknown[]) => {
    lines.push(String(chunk));
    return (errWrite as (...a: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stderr.write;
  try {
    const result = await fn(logger);
    return { result, output: lines.join("\n") };
  } finally {
    process.stdout.write = outWrite;
    process.stderr.write = errWrite;
  }
}

function closedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** Every way a password may be written: raw, URL-encoded, decoded. */
function forms(password: string): string[] {
  return [...new Set([password, encodeURIComponent(password), decodeURIComponent(password)])];
}

type Q = { work: { n: number } };

/** Every call a user makes that connects, each failing; returns what each threw. */
async function failingCalls(url: string, logger: Logger): Promise<unknown[]> {
  const thrown: unknown[] = [];
  const attempt = async (fn: () => Promise<unknown>) => {
    await fn().then(
      () => thrown.push(new Error("unexpectedly succeeded")),
      (e: unknown) => thrown.push(e),
    );
  };
  const sidetrack = new Sidetrack<Q>({
    databaseUrl: url,
    logger,
    handleSignals: false,
    queues: { work: { handler: () => undefined } },
  });
  sidetrack.on("error", (e) => thrown.push(e));
  await attempt(() => sidetrack.insertJob("work", { n: 1 }));
  await attempt(() => sidetrack.insertJobs("work", [{ n: 1 }]));
  await attempt(() => sidetrack.getJob("1"));
  await attempt(() => sidetrack.listJobs());
  await attempt(() => sidetrack.cancelJob("1"));
  await attempt(() => sidetrack.start());
  await attempt(() => sidetrack.runJobs());
  await attempt(() => runMigrations({ connectionString: url }));
  await sidetrack.stop().catch((e: unknown) => thrown.push(e));
  return thrown;
}

describe("connection passwords never leak", () => {
  let server: EmbeddedDatabase;
  beforeAll(async () => {
    // Our own server: it checks passwords (the shared test server may trust everyone), and we change its password below.
    server = await startEmbeddedPostgres();
  });
  afterAll(() => server?.stop());

  it("not when the server is unreachable", async () => {
    const password = "S3cr%40tMarker-unreachable";
    const port = await closedPort();
    const url = `postgres://postgres:${password}@127.0.0.1:${port}/app`;
    const { result: thrown, output } = await capture((logger) => failingCalls(url, logger));
    expect(thrown.length).toBeGreaterThanOrEqual(8);
    for (const error of thrown) {
      expect(error).toBeInstanceOf(Error);
      for (const form of forms(password)) expect(exposed(error)).not.toContain(form);
    }
    for (const form of forms(password)) expect(output).not.toContain(form);
  });

  it("not when the connection string cannot be parsed", async () => {
    const password = "Unp4rseable%40Marker";
    const { result: thrown, output } = await capture((logger) => failingCalls(`postgres://postgres:${password}@127.0.0.1:99999/app`, logger));
    for (const error of thrown) for (const form of forms(password)) expect(exposed(error)).not.toContain(form);
    for (const form of forms(password)) expect(output).not.toContain(form);
  });

  it("not when the password is wrong", async () => {
    const right = new URL(server.url).password;
    const wrong = "Wr0ngPassw0rdMarker";
    const url = new URL(server.url);
    url.password = wrong;
    const { result: thrown, output } = await capture((logger) => failingCalls(url.toString(), logger));
    expect(thrown.some((e) => /password authentication failed/.test(String((e as Error)?.message)))).toBe(true);
    for (const error of thrown) {
      for (const secret of [wrong, right]) expect(exposed(error)).not.toContain(secret);
    }
    for (const secret of [wrong, right]) expect(output).not.toContain(secret);
  });

  it("not in a running worker's logs and error events while it cannot reconnect", async () => {
    const password = new URL(server.url).password;
    const admin = quiet(new pg.Client({ connectionString: server.url }));
    await admin.connect();
    const events: unknown[] = [];
    const { output } = await capture(async (logger) => {
      const worker = new Sidetrack<Q>({
        databaseUrl: server.url,
        schema: "pw_worker",
        logger,
        handleSignals: false,
        pollInterval: 100,
        rescueInterval: 100,
        queues: { work: { handler: () => undefined } },
      });
      worker.on("error", (e) => events.push(e));
      await worker.start();
      // The password changes under the worker and its connections die: every reconnect now fails authentication.
      await admin.query("alter user postgres password 'Ch4ngedMarker'");
      // Terminated again at every poll: a connection of the worker's that was still starting up
      // (authenticated with the old password) when pg_stat_activity was read would otherwise
      // survive, and the worker would keep working through it without ever reconnecting.
      const terminateOthers = () =>
        admin.query(
          "select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and backend_type = 'client backend'",
        );
      await terminateOthers();
      await expect
        .poll(async () => {
          if (events.some((e) => /password authentication failed/.test(String((e as Error)?.message)))) return true;
          await terminateOthers();
          return false;
        }, { timeout: 30_000 })
        .toBe(true);
      // Back to the old password: the worker recovers on its own.
      const { rows } = await admin.query<{ sql: string }>("select format('alter user postgres password %L', $1::text) as sql", [password]);
      await admin.query(rows[0]!.sql);
      const job = await worker.insertJob("work", { n: 1 });
      await nextEvent(worker, "job:completed", (j) => j.id === job.id, 30_000);
      await worker.stop({ grace: 0 });
    });
    await admin.end();
    expect(output).toMatch(/password authentication failed/);
    for (const secret of [password, "Ch4ngedMarker"]) {
      expect(output).not.toContain(secret);
      for (const e of events) expect(exposed(e)).not.toContain(secret);
    }
  });
});
