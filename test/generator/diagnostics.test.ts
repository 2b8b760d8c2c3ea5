// The corpus of broken declarations (test/fixtures/generator/broken): each names, on its first line,
// the diagnostic it must produce (`// expect: [file:]line:col message`); none may write a file.
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { formatDiagnostic, generate } from "../../generator/index.js";
import { main } from "../../cli/main.js";
import { tempProject } from "./helpers.js";

const dir = tempProject("broken");
const cases = fs
  .readdirSync(dir)
  .filter((f) => !f.startsWith("_") && f.endsWith(".ts"))
  .sort()
  .map((file) => {
    const first = fs.readFileSync(path.join(dir, file), "utf8").split("\n")[0]!;
    const match = /^\/\/ expect: (?:(\S+\.ts):)?(\d+):(\d+) (.+)$/.exec(first);
    if (!match) throw new Error(`${file}: first line must be // expect: [file:]line:col message`);
    return { file, expectedFile: match[1] ?? file, line: Number(match[2]), column: Number(match[3]), message: match[4]! };
  });

describe("broken declarations", () => {
  it("has a corpus of at least 20 cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(20);
  });

  it.each(cases)("$file", ({ file, expectedFile, line, column, message }) => {
    const out = path.join(dir, `out-${file}`);
    const result = generate({ queues: path.join(dir, file), out });
    expect(result.ok).toBe(false);
    expect(result.written).toEqual([]);
    expect(fs.existsSync(out)).toBe(false);
    const [first] = result.diagnostics;
    expect(first).toBeDefined();
    expect({ file: path.basename(first!.file), line: first!.line, column: first!.column }).toEqual({ file: expectedFile, line, column });
    expect(first!.message).toContain(message);
    // Every diagnostic carries a one-line fix.
    for (const d of result.diagnostics) {
      expect(d.fix.length).toBeGreaterThan(10);
      expect(d.fix).not.toContain("\n");
    }
    expect(formatDiagnostic(first!, dir)).toMatch(new RegExp(`^${expectedFile.replace(".", "\\.")}:${line}:${column} error: .+\n  fix: .+$`));
  });

  it("reports every problem of a declaration, not only the first", () => {
    fs.writeFileSync(
      path.join(dir, "_many.ts"),
      [
        'import { defineQueues, queue } from "sidetrack";',
        "export default defineQueues({",
        '  a: queue<{ at: Date }>({ maxAttempts: 0 }),',
        '  b: queue<{ id: string }>({ priorty: 1, timeout: "soon" }),',
        "});",
        "",
      ].join("\n"),
    );
    const result = generate({ queues: path.join(dir, "_many.ts"), out: path.join(dir, "out-many") });
    expect(result.diagnostics.map((d) => `${d.line}:${d.column}`)).toEqual(["3:14", "3:41", "4:30", "4:51"]);
    expect(result.diagnostics[2]!.fix).toContain("did you mean priority?");
  });

  it("the CLI prints file:line:col and the fix, writes nothing and sets exit code 1", async () => {
    const errors: string[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void errors.push(args.join(" "));
    const cwd = process.cwd();
    process.chdir(dir);
    try {
      const code = await main(["generate", "--queues", "14-bad-max-attempts.ts", "--out", "cli-out"]);
      expect(code).toBe(1);
    } finally {
      process.chdir(cwd);
      console.error = original;
      process.exitCode = undefined;
    }
    expect(errors.join("\n")).toContain("14-bad-max-attempts.ts:5:53 error: option maxAttempts of queue \"sendInvoice\" must be an integer of at least 1, got 0\n  fix: e.g. maxAttempts: 10");
    expect(fs.existsSync(path.join(dir, "cli-out"))).toBe(false);
  });
});
