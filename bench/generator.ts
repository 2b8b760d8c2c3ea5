// Timings of `sidetrack generate` (printed, never asserted): a cold run on a 50-queue declaration in a
// fresh process, and regeneration in --watch after a save. Run: npm run build && npx tsx bench/generator.ts [--profile]
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { watchDeclaration, type GenerateResult } from "../generator/index.js";

const repo = fileURLToPath(new URL("../", import.meta.url));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sidetrack-bench-"));
const declaration = path.join(dir, "sidetrack.queues.ts");

function writeDeclaration(maxAttempts: number): void {
  const queues = Array.from({ length: 50 }, (_, i) => {
    const options = i % 3 === 0 ? `{ maxAttempts: ${maxAttempts}, priority: ${i}, timeout: "30s", uniqueBy: ["id"] }` : i % 3 === 1 ? `{ cron: { schedule: "*/5 * * * *", payload: { id: "cron", items: [] } } }` : "";
    return `  queue${i}: queue<Payload${i % 5}>(${options}),`;
  });
  const types = Array.from({ length: 5 }, (_, i) => `type Payload${i} = { id: string; count?: number; kind?: "a" | "b"; items: { sku: string; qty: number }[]; meta${i}?: Record<string, string> };`);
  fs.writeFileSync(declaration, [`import { defineQueues, queue } from "sidetrack";`, ...types, "export default defineQueues({", ...queues, "});", ""].join("\n"));
}

writeDeclaration(5);
// Cold: a new process, as `npx sidetrack generate` is (module loading and the compiler included).
const coldRuns: number[] = [];
for (let i = 0; i < 3; i++) {
  fs.rmSync(path.join(dir, "sidetrack"), { recursive: true, force: true });
  const started = performance.now();
  // The built CLI, as users run it (`npm run bench` builds first); tsx would add its own compile time.
  execFileSync(process.execPath, [path.join(repo, "dist/bin/sidetrack.js"), "generate", "--queues", declaration], { stdio: "ignore" });
  coldRuns.push(performance.now() - started);
}
console.log(`cold generate, 50 queues, new process (node dist): ${coldRuns.map((ms) => Math.round(ms)).join(" / ")} ms (target: under 1000)`);
if (process.argv.includes("--profile")) {
  // Where a cold run's time goes: open the .cpuprofile in Chrome DevTools (Performance tab).
  const profiles = path.join(repo, "bench/results");
  fs.rmSync(path.join(dir, "sidetrack"), { recursive: true, force: true });
  execFileSync(process.execPath, ["--cpu-prof", `--cpu-prof-dir=${profiles}`, path.join(repo, "dist/bin/sidetrack.js"), "generate", "--queues", declaration], { stdio: "ignore" });
  console.log(`cold run profile written to ${profiles}`);
}

// Watch: time from the save to the regenerated files being written.
const results: { result: GenerateResult; ms: number; at: number }[] = [];
const watcher = watchDeclaration({ queues: declaration, debounceMs: 50, onResult: (result, ms) => results.push({ result, ms, at: performance.now() }) });
await watcher.ready;
console.log(`first run inside the watcher (warm-up):        ${Math.round(results[0]!.ms)} ms`);
const saves: { run: number; saveToWritten: number }[] = [];
for (let i = 0; i < 5; i++) {
  const before = results.length;
  const saved = performance.now();
  writeDeclaration(6 + i);
  while (results.length === before) await new Promise((resolve) => setTimeout(resolve, 5));
  const last = results.at(-1)!;
  if (!last.result.ok || last.result.written.length !== 1) throw new Error("watch did not regenerate the client");
  saves.push({ run: last.ms, saveToWritten: last.at - saved });
}
await watcher.close();
console.log(`--watch regeneration (run only):               ${saves.map((s) => Math.round(s.run)).join(" / ")} ms`);
console.log(`--watch save → written (incl. 50 ms debounce): ${saves.map((s) => Math.round(s.saveToWritten)).join(" / ")} ms`);
fs.rmSync(dir, { recursive: true, force: true });
// Last line for bench/run.ts: the best of the runs (the least disturbed by other load).
if (process.argv.includes("--json")) {
  console.log(JSON.stringify({ coldMs: Math.round(Math.min(...coldRuns)), watchRegenerateMs: Math.round(Math.min(...saves.map((s) => s.run))) }));
}
