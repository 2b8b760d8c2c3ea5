// The README's TypeScript blocks, type-checked as written in a `"type": "module"` NodeNext project:
// the declaration block becomes sidetrack.queues.ts (and is generated from), the others are
// modules of the app; the names they leave to the reader (prisma, pool, sendMail …) are declared.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { runCli } from "./cli/run-cli.js";
import { repoRoot, tempProject, typecheck } from "./generator/helpers.js";

const blocks = [...fs.readFileSync(path.join(repoRoot, "README.md"), "utf8").matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);

// What the snippets take from the reader's application, typed as that application would have them.
const ambient = `import type pg from "pg";
interface Tx {
  user: { create(args: { data: unknown }): Promise<{ email: string }> };
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): Promise<T>;
}
declare global {
  const prisma: { $transaction<T>(fn: (tx: Tx) => Promise<T>): Promise<T> };
  const pool: pg.Pool;
  const data: { email: string };
  const email: string;
  const invoiceId: string;
  const amountCents: number;
  function sendMail(to: string): Promise<void>;
  function charge(invoice: { invoiceId: string; amountCents: number }, options: { signal: AbortSignal }): Promise<void>;
  function digest(): Promise<void>;
}
export {};
`;

describe("README", () => {
  it("every TypeScript block compiles in a NodeNext ES-module project", async () => {
    const declaration = blocks.find((b) => b.includes("defineQueues("));
    expect(declaration).toBeDefined();
    const others = blocks.filter((b) => b !== declaration);
    expect(others.length).toBeGreaterThan(0);
    const dir = tempProject();
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ type: "module" }));
    fs.writeFileSync(path.join(dir, "sidetrack.queues.ts"), declaration!);
    fs.writeFileSync(path.join(dir, "ambient.d.ts"), ambient);
    others.forEach((block, i) => fs.writeFileSync(path.join(dir, `snippet${i + 1}.ts`), block));
    const generated = await runCli(["generate", "--queues", path.relative(repoRoot, path.join(dir, "sidetrack.queues.ts"))]);
    expect(generated.code, generated.stderr).toBe(0);
    const { code, output } = await typecheck(dir);
    expect(output).toBe("");
    expect(code).toBe(0);
  });
});
