// Standard Schema payloads (zod and valibot): generate → insert valid and invalid payloads in a
// transaction against a real PostgreSQL → the worker receives the schema's output. Also the types
// (inserts take the input type, handlers get the output), --check and --watch on the schema's module.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { main } from "../../cli/main.js";
import { generate, watchDeclaration, type GenerateResult, type Watcher } from "../../generator/index.js";
import { runMigrations, SidetrackValidationError, type InsertedJob } from "../../runtime/index.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { tempProject, typecheck } from "./helpers.js";

type AnyJob = InsertedJob<any, string>;
interface GeneratedClient {
  insertUserSignup(db: unknown, payload: unknown): Promise<AnyJob>;
  insertManyUserSignup(db: unknown, items: unknown[]): Promise<AnyJob[]>;
  insertSendInvoice(db: unknown, payload: unknown): Promise<AnyJob>;
  insertReserve(db: unknown, payload: unknown): Promise<AnyJob>;
  validate(queue: string, payload: unknown): void;
  createWorker(options: object): { runJobs(filter?: object): Promise<number>; stop(): Promise<void> };
}

let dir: string;
let client: GeneratedClient;
let source: string;
let db: TestDatabase;

beforeAll(async () => {
  dir = tempProject("schemas");
  const result = generate({ queues: path.join(dir, "sidetrack.queues.ts") });
  expect(result.diagnostics).toEqual([]);
  source = fs.readFileSync(path.join(dir, "sidetrack/client.ts"), "utf8");
  client = (await import(pathToFileURL(path.join(dir, "sidetrack/client.ts")).href)) as GeneratedClient;
  db = await createTestDatabase("gen_schemas");
  await runMigrations({ pool: db.pool });
});

async function count(queue: string): Promise<number> {
  const { rows } = await db.pool.query("select count(*)::int as n from sidetrack.jobs where queue = $1", [queue]);
  return rows[0].n;
}

/** Runs `fn` in a transaction on one pg client and commits. */
async function inTransaction<T>(fn: (pg: unknown) => Promise<T>): Promise<T> {
  const pg = await db.pool.connect();
  try {
    await pg.query("begin");
    const result = await fn(pg);
    await pg.query("commit");
    return result;
  } catch (error) {
    await pg.query("rollback");
    throw error;
  } finally {
    pg.release();
  }
}

describe("generated client", () => {
  it("imports each schema from its module, relative to the output folder, and types payloads from it", async () => {
    await expect(source.slice(source.indexOf("// Payload schemas"), source.indexOf("export type QueueName"))).toMatchFileSnapshot("__snapshots__/schemas.client.snap");
    const imports = [...source.matchAll(/^import .* from "([^"]+)"|^} from "([^"]+)"/gm)].map((m) => m[1] ?? m[2]);
    expect(imports).toEqual(["sidetrack", "sidetrack/generated", "../schemas.js"]);
  });

  it("computes the schema's import from wherever --out puts the client", () => {
    const project = tempProject("schemas");
    expect(generate({ queues: path.join(project, "sidetrack.queues.ts"), out: path.join(project, "src/generated/jobs") }).ok).toBe(true);
    expect(fs.readFileSync(path.join(project, "src/generated/jobs/client.ts"), "utf8")).toContain('} from "../../../schemas.js";');
  });

  it("compiles: inserts take the schema's input type, handlers get its output", async () => {
    fs.writeFileSync(
      path.join(dir, "usage.ts"),
      [
        'import { createWorker, insertUserSignup, type JobOf } from "./sidetrack/client.js";',
        "export async function use(db: import(\"pg\").Pool): Promise<void> {",
        "  // plan has a default: optional on input.",
        '  await insertUserSignup(db, { email: "a@example.com", name: "Al" });',
        "  // @ts-expect-error email is required",
        '  await insertUserSignup(db, { name: "Al" });',
        "  createWorker({ pool: db, handlers: {",
        '    userSignup: async (job: JobOf<"userSignup">) => { const plan: "free" | "pro" = job.payload.plan; void plan; },',
        "    sendInvoice: async (job) => void job.payload.amountCents.toFixed(),",
        "    reserve: async (job) => void job.payload.room.toUpperCase(),",
        "    plain: async (job) => void job.payload.id,",
        "  } });",
        "}",
        "",
      ].join("\n"),
    );
    const { code, output } = await typecheck(dir);
    expect(output).toBe("");
    expect(code).toBe(0);
  });
});

describe("inserts validated by the schema itself", () => {
  it("zod: stores the schema's output (trimmed, defaulted) and commits with the transaction", async () => {
    const job = await inTransaction((pg) => client.insertUserSignup(pg, { email: "ada@example.com", name: "  Ada  " }));
    expect(job.payload).toEqual({ email: "ada@example.com", name: "Ada", plan: "free" });
    const { rows } = await db.pool.query("select payload from sidetrack.jobs where id = $1", [job.id]);
    expect(rows[0].payload).toEqual({ email: "ada@example.com", name: "Ada", plan: "free" });
  });

  const invalid: [string, (pg: unknown) => Promise<unknown>, string, string, RegExp][] = [
    ["zod format", (pg) => client.insertUserSignup(pg, { email: "not-an-email", name: "Ada" }), "userSignup", "payload.email", /queue "userSignup": payload\.email: Invalid email/],
    ["zod min length after trim", (pg) => client.insertUserSignup(pg, { email: "b@example.com", name: " B " }), "userSignup", "payload.name", /payload\.name: Too small/],
    ["valibot integer", (pg) => client.insertSendInvoice(pg, { invoiceId: "i", amountCents: 1.5 }), "sendInvoice", "payload.amountCents", /queue "sendInvoice": payload\.amountCents: Invalid integer/],
    ["valibot nested", (pg) => client.insertSendInvoice(pg, { invoiceId: "i", amountCents: 1, lines: [{ sku: "a", quantity: 0.5 }] }), "sendInvoice", "payload.lines[0].quantity", /payload\.lines\[0\]\.quantity: Invalid integer/],
    ["an async refinement, awaited", (pg) => client.insertReserve(pg, { room: "taken" }), "reserve", "payload.room", /queue "reserve": payload\.room: room is taken/],
    ["one bad item of a batch", (pg) => client.insertManyUserSignup(pg, [{ email: "c@example.com", name: "Cy" }, { email: "d@", name: "Di" }]), "userSignup", "payload.email", /payload\.email: Invalid email/],
  ];
  it.each(invalid)("rejects %s with queue, path and message, and writes nothing", async (_name, attempt, queue, property, message) => {
    const before = await count(queue);
    const error = await inTransaction(attempt).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SidetrackValidationError);
    expect((error as SidetrackValidationError).queue).toBe(queue);
    expect((error as SidetrackValidationError).path).toBe(property);
    expect((error as Error).message).toMatch(message);
    expect(await count(queue)).toBe(before);
  });

  it("an async schema passes when its refinement does", async () => {
    const job = await inTransaction((pg) => client.insertReserve(pg, { room: "free" }));
    expect(job.payload).toEqual({ room: "free" });
  });

  it("validate() runs sync schemas, and says why it cannot run an async one", () => {
    expect(() => client.validate("sendInvoice", { invoiceId: "i", amountCents: 2 })).not.toThrow();
    expect(() => client.validate("userSignup", { email: "x", name: "Xi" })).toThrow(/payload\.email: Invalid email/);
    expect(() => client.validate("reserve", { room: "x" })).toThrow(/validates asynchronously, so validate\(\) cannot check it; insertReserve\(\) awaits it/);
  });

  it("the worker receives the parsed payload", async () => {
    await inTransaction((pg) => client.insertUserSignup(pg, { email: "grace@example.com", name: " Grace ", plan: "pro" }));
    const received: unknown[] = [];
    const worker = client.createWorker({
      pool: db.pool,
      handlers: {
        userSignup: async (job: { payload: unknown }) => void received.push(job.payload),
        sendInvoice: async () => undefined,
        reserve: async () => undefined,
        plain: async () => undefined,
      },
    });
    await worker.runJobs({ queue: "userSignup" });
    expect(received).toContainEqual({ email: "grace@example.com", name: "Grace", plan: "pro" });
  });
});

describe("--check and --watch follow the schema's module", () => {
  let watcher: Watcher | undefined;
  afterEach(async () => {
    await watcher?.close();
    watcher = undefined;
  });

  const edit = (file: string, from: string, to: string) => {
    const text = fs.readFileSync(file, "utf8");
    expect(text).toContain(from);
    fs.writeFileSync(file, text.replace(from, to));
  };

  it("--check fails when the schema's module changes the payload into something that does not survive JSON", async () => {
    const project = tempProject("schemas");
    const run = async (...args: string[]) => {
      const errors: string[] = [];
      const { log, error } = console;
      console.log = () => undefined;
      console.error = (...a: unknown[]) => void errors.push(a.join(" "));
      const previous = process.cwd();
      process.chdir(project);
      try {
        return { code: await main(args), err: errors.join("\n") };
      } finally {
        process.chdir(previous);
        Object.assign(console, { log, error });
        process.exitCode = undefined;
      }
    };
    expect((await run("generate")).code).toBe(0);
    expect((await run("generate", "--check")).code).toBe(0);
    edit(path.join(project, "schemas.ts"), 'plan: z.enum(["free", "pro"]).default("free"),', 'plan: z.enum(["free", "pro"]).default("free"),\n  signedUpAt: z.date(),');
    const stale = await run("generate", "--check");
    expect(stale.code).toBe(1);
    expect(stale.err).toMatch(/queue "userSignup": payload\.signedUpAt is a Date, which does not survive JSON/);
  });

  it("--watch regenerates on a save of the schema's module", async () => {
    const project = tempProject("schemas");
    const results: GenerateResult[] = [];
    watcher = watchDeclaration({ queues: path.join(project, "sidetrack.queues.ts"), debounceMs: 150, onResult: (r) => void results.push(r) });
    await watcher.ready;
    expect(results[0]!.ok).toBe(true);
    expect(results[0]!.localFiles.map((f) => path.basename(f))).toEqual(["schemas.ts", "sidetrack.queues.ts"]);

    // uniqueBy names email: a schema without it is now an error the watcher reports.
    edit(path.join(project, "schemas.ts"), "  email: z.email(),\n", "");
    await expect.poll(() => results.length, { timeout: 20_000 }).toBe(2);
    expect(results[1]!.ok).toBe(false);
    expect(results[1]!.diagnostics[0]!.message).toContain('names "email", which the payload type of queue "userSignup" does not have');

    edit(path.join(project, "schemas.ts"), "export const Signup = z.object({\n", "export const Signup = z.object({\n  email: z.email(),\n");
    await expect.poll(() => results.length, { timeout: 20_000 }).toBe(3);
    expect(results[2]!.ok).toBe(true);
  });
});
