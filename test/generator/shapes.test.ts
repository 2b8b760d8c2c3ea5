// Payload types composed the ways applications write them (intersections, generic aliases, extends
// chains, satisfies/as const in options): the generated output, and its validators against real
// inserts into PostgreSQL inside a transaction.
import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { generate } from "../../generator/index.js";
import { runMigrations, SidetrackValidationError, type InsertedJob } from "../../runtime/index.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { tempProject } from "./helpers.js";

type Insert = (db: unknown, payload: unknown) => Promise<InsertedJob<any, string>>;
let client: Record<string, Insert>;
let source: string;
let db: TestDatabase;

beforeAll(async () => {
  const dir = tempProject("shapes");
  const result = generate({ queues: path.join(dir, "sidetrack.queues.ts") });
  expect(result.diagnostics).toEqual([]);
  source = fs.readFileSync(path.join(dir, "sidetrack/client.ts"), "utf8");
  client = (await import(pathToFileURL(path.join(dir, "sidetrack/client.ts")).href)) as Record<string, Insert>;
  db = await createTestDatabase("gen_shapes");
  await runMigrations({ pool: db.pool });
});

describe("composed payload types", () => {
  it("generate merged, self-contained types and options", async () => {
    const block = (start: string) => source.slice(source.indexOf(start), source.indexOf("\n};\n", source.indexOf(start)) + 3);
    await expect(`${block("export type Payloads")}\n\n${block("const queues:")}\n`).toMatchFileSnapshot("__snapshots__/shapes.client.snap");
  });

  /** Inserts in a transaction that is rolled back: what matters is whether the validator let it through. */
  async function attempt(queue: string, payload: unknown): Promise<InsertedJob<any, string> | SidetrackValidationError> {
    const pg = await db.pool.connect();
    try {
      await pg.query("begin");
      return await client[`insert${queue[0]!.toUpperCase()}${queue.slice(1)}`]!(pg, payload).catch((e: unknown) => {
        if (e instanceof SidetrackValidationError) return e;
        throw e;
      });
    } finally {
      await pg.query("rollback");
      pg.release();
    }
  }

  const cases: [queue: string, valid: unknown, invalid: unknown, path: string][] = [
    ["intersection", { id: "a", tenant: "t", n: 1 }, { id: "a", tenant: "t" }, "payload.n"],
    ["threeWay", { id: "a", tenant: "t", createdBy: "u", note: "n" }, { id: "a", tenant: "t", createdBy: "u" }, "payload.note"],
    ["intersectedUnion", { id: "a", tenant: "t", kind: "sms", phone: "1" }, { id: "a", tenant: "t", kind: "fax", to: "x" }, "payload"],
    ["indexed", { id: "a", extra: "x" }, { id: "a", extra: 1 }, "payload.extra"],
    ["generic", { data: { id: "a" }, sentAt: "now" }, { data: { id: 1 }, sentAt: "now" }, "payload.data.id"],
    ["genericOfIntersection", { items: [{ id: "a", tenant: "t", score: 1 }], total: 1 }, { items: [{ id: "a", tenant: "t" }], total: 1 }, "payload.items[0].score"],
    ["extendsChain", { name: "Lassie", goodBoy: true, breed: "collie", data: { ribbon: 1 }, sentAt: "now" }, { name: "Lassie", goodBoy: true, breed: "beagle", data: { ribbon: 1 }, sentAt: "now" }, "payload.breed"],
    ["empty", {}, "nothing", "payload"],
    ["restTuple", { path: ["a", 1, 2] }, { path: ["a", "b", true] }, "payload.path[2]"],
  ];
  it.each(cases)("%s: a fitting payload is inserted, one that does not fit names its property", async (queue, valid, invalid, property) => {
    const job = await attempt(queue, valid);
    expect(job).not.toBeInstanceOf(Error);
    expect((job as InsertedJob<any, string>).payload).toEqual(valid);
    const error = await attempt(queue, invalid);
    expect(error).toBeInstanceOf(SidetrackValidationError);
    expect((error as SidetrackValidationError).path).toBe(property);
    expect((error as Error).message).toContain(`queue "${queue}": ${property}`);
  });

  it("reads cron payloads written with satisfies and as const", () => {
    expect(source).toContain('"cron":{"schedule":"0 3 * * *","payload":{"tags":["daily"]}}');
    expect(source).toContain('"cron":{"schedule":"0 4 * * *","payload":{"day":"mon","tags":[]}}');
  });
});
