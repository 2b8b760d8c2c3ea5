// The type contract of the generated client, checked by the real compiler: correct use compiles,
// and each misuse fails exactly on the line its `// @ts-expect-error` marks.
import fs from "node:fs";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { generate } from "../../generator/index.js";
import { tempProject, tscErrors, typecheck } from "./helpers.js";

let dir: string;

beforeAll(() => {
  dir = tempProject("app");
  const result = generate({ queues: path.join(dir, "sidetrack.queues.ts") });
  expect(result.diagnostics).toEqual([]);
});

/** Lines (1-based) that follow a `// @ts-expect-error`. */
function expectedErrorLines(source: string): number[] {
  return source.split("\n").flatMap((line, i) => (line.trim().startsWith("// @ts-expect-error") ? [i + 2] : []));
}

describe("generated client types", () => {
  it("compiles the app, every @ts-expect-error being needed (strict, noUnusedLocals)", async () => {
    const { code, output } = await typecheck(dir);
    expect(output).toBe("");
    expect(code).toBe(0);
  });

  it("fails on exactly the marked lines once the @ts-expect-error comments are removed", async () => {
    const appFile = path.join(dir, "app.ts");
    const source = fs.readFileSync(appFile, "utf8");
    const expected = expectedErrorLines(source);
    expect(expected).toHaveLength(6);
    // Blank the directives without moving any line.
    fs.writeFileSync(appFile, source.replace(/\/\/ @ts-expect-error.*$/gm, "//"));
    try {
      const { code, output } = await typecheck(dir);
      expect(code).not.toBe(0);
      const errors = tscErrors(output);
      expect(errors.every((e) => e.file === "app.ts")).toBe(true);
      expect([...new Set(errors.map((e) => e.line))].sort((a, b) => a - b)).toEqual(expected);
      const byLine = (line: number) => errors.filter((e) => e.line === line).map((e) => e.message).join(" / ");
      const [field, fieldType, queue, handler, handlerPayload, unknownHandler] = expected;
      expect(byLine(field!)).toMatch(/'emial' does not exist/);
      expect(byLine(fieldType!)).toMatch(/'string' is not assignable to type 'number'/);
      expect(byLine(queue!)).toMatch(/Property 'sendReceipt' does not exist on type 'Jobs'/);
      expect(byLine(handler!)).toMatch(/Property 'nightlyDigest' is missing/);
      expect(byLine(handlerPayload!)).toMatch(/Property 'total' does not exist/);
      expect(byLine(unknownHandler!)).toMatch(/'sendReceipt' does not exist in type 'Handlers'/);
    } finally {
      fs.writeFileSync(appFile, source);
    }
  });
});

describe("generated client output types (queue<P, R>())", () => {
  let outputDir: string;
  beforeAll(() => {
    outputDir = tempProject("output");
    const result = generate({ queues: path.join(outputDir, "sidetrack.queues.ts") });
    expect(result.diagnostics).toEqual([]);
  });

  it("compiles: the handler resolves R (or a snooze), getJob reads R back", async () => {
    const { code, output } = await typecheck(outputDir);
    expect(output).toBe("");
    expect(code).toBe(0);
  });

  it("fails on exactly the marked lines without their @ts-expect-error", async () => {
    const appFile = path.join(outputDir, "app.ts");
    const source = fs.readFileSync(appFile, "utf8");
    const expected = expectedErrorLines(source);
    expect(expected).toHaveLength(2);
    fs.writeFileSync(appFile, source.replace(/\/\/ @ts-expect-error.*$/gm, "//"));
    try {
      const { code, output } = await typecheck(outputDir);
      expect(code).not.toBe(0);
      const errors = tscErrors(output);
      expect([...new Set(errors.map((e) => e.line))].sort((a, b) => a - b)).toEqual(expected);
      const byLine = (line: number) => errors.filter((e) => e.line === line).map((e) => e.message).join(" / ");
      expect(byLine(expected[0]!)).toMatch(/Promise<\{ url: string; \}>' is not assignable/);
      expect(byLine(expected[1]!)).toMatch(/'string \| undefined' is not assignable to type 'number \| undefined'/);
    } finally {
      fs.writeFileSync(appFile, source);
    }
  });
});
