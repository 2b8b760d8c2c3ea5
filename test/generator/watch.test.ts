// --watch: regenerates on a save of the declaration or of a local file it imports, debounced;
// broken input keeps the last good output and reports the diagnostic.
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { watchDeclaration, type GenerateResult, type Watcher } from "../../generator/index.js";
import { tempProject } from "./helpers.js";

let watcher: Watcher | undefined;
afterEach(async () => {
  await watcher?.close();
  watcher = undefined;
});

function start(dir: string) {
  const results: GenerateResult[] = [];
  watcher = watchDeclaration({ queues: path.join(dir, "sidetrack.queues.ts"), debounceMs: 150, onResult: (r) => void results.push(r) });
  return results;
}

const edit = (file: string, from: string, to: string) => {
  const text = fs.readFileSync(file, "utf8");
  expect(text).toContain(from);
  fs.writeFileSync(file, text.replace(from, to));
};

describe("generate --watch", () => {
  it("regenerates when the declaration or an imported file changes, and keeps good output through broken input", async () => {
    const dir = tempProject("app");
    const results = start(dir);
    await watcher!.ready;
    expect(results).toHaveLength(1);
    expect(results[0]!.ok).toBe(true);
    const client = path.join(dir, "sidetrack/client.ts");
    expect(results[0]!.localFiles.map((f) => path.basename(f))).toEqual(["sidetrack.queues.ts", "types.ts"]);

    // The declaration.
    edit(path.join(dir, "sidetrack.queues.ts"), "maxAttempts: 10", "maxAttempts: 12");
    await expect.poll(() => results.length, { timeout: 10_000 }).toBe(2);
    expect(results[1]!.written).toEqual([client]);
    expect(fs.readFileSync(client, "utf8")).toContain('"maxAttempts":12');

    // A file it imports.
    edit(path.join(dir, "types.ts"), "quantity: number;", "quantity: number;\n  unitCents: number;");
    await expect.poll(() => results.length, { timeout: 10_000 }).toBe(3);
    expect(fs.readFileSync(client, "utf8")).toContain("{ sku: string; quantity: number; unitCents: number }");

    // Broken: a Date in the imported type. Diagnostic reported, nothing written.
    const good = fs.readFileSync(client, "utf8");
    edit(path.join(dir, "types.ts"), "unitCents: number;", "unitCents: number;\n  shippedAt: Date;");
    await expect.poll(() => results.length, { timeout: 10_000 }).toBe(4);
    expect(results[3]!.ok).toBe(false);
    expect(results[3]!.diagnostics[0]).toMatchObject({ line: 12, column: 3, message: expect.stringContaining("payload.lines[number].shippedAt is a Date") });
    expect(fs.readFileSync(client, "utf8")).toBe(good);

    // Fixed again.
    edit(path.join(dir, "types.ts"), "shippedAt: Date;", "shippedAt: string;");
    await expect.poll(() => results.length, { timeout: 10_000 }).toBe(5);
    expect(results[4]!.ok).toBe(true);
    expect(fs.readFileSync(client, "utf8")).toContain("shippedAt: string");
  });

  it("debounces a burst of saves into one regeneration", async () => {
    const dir = tempProject("app");
    const results = start(dir);
    await watcher!.ready;
    const declaration = path.join(dir, "sidetrack.queues.ts");
    for (let i = 0; i < 5; i++) edit(declaration, `priority: ${5 + i},`, `priority: ${6 + i},`);
    await expect.poll(() => results.length, { timeout: 10_000 }).toBe(2);
    // Give a stray second run the chance to show up.
    await new Promise((resolve) => setTimeout(resolve, 600));
    expect(results).toHaveLength(2);
    expect(fs.readFileSync(path.join(dir, "sidetrack/client.ts"), "utf8")).toContain('"priority":10');
  });

  it("follows a newly imported file", async () => {
    const dir = tempProject("app");
    const results = start(dir);
    await watcher!.ready;
    fs.writeFileSync(path.join(dir, "extra.ts"), "export type Extra = { note: string };\n");
    edit(path.join(dir, "sidetrack.queues.ts"), 'import type { Invoice, Plan } from "./types.js";', 'import type { Invoice, Plan } from "./types.js";\nimport type { Extra } from "./extra.js";');
    edit(path.join(dir, "sidetrack.queues.ts"), "userOnboarding: queue<Onboarding>(),", "userOnboarding: queue<Onboarding>(),\n  note: queue<Extra>(),");
    await expect.poll(() => results.at(-1)?.localFiles.length, { timeout: 10_000 }).toBe(3);
    const runs = results.length;
    fs.writeFileSync(path.join(dir, "extra.ts"), "export type Extra = { note: string; by: string };\n");
    await expect.poll(() => results.length, { timeout: 10_000 }).toBe(runs + 1);
    expect(fs.readFileSync(path.join(dir, "sidetrack/client.ts"), "utf8")).toContain("note: { note: string; by: string };");
  });
});
