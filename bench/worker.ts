// One burn-down worker process, bundled by run.ts and run under plain node:
// `node bench/.build/worker.mjs <contender> <url> <concurrency> <handler ms>`.
// Prints `first <epoch ms>` when its first job starts; on SIGTERM stops and prints `rss <bytes>`
// and `cpu <ms>` (user + system CPU time of the process from its first job on, so start-up is left out).
import { readFileSync } from "node:fs";
import { contenders } from "./contenders/index.js";

/** VmHWM of /proc/self/status in bytes (Linux), or undefined elsewhere. */
function highWaterRss(): number | undefined {
  try {
    const kib = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync("/proc/self/status", "utf8"))?.[1];
    return kib === undefined ? undefined : Number(kib) * 1024;
  } catch {
    return undefined;
  }
}

const [name, url, concurrency, handlerMs] = process.argv.slice(2);
const contender = contenders[name!]!;
let first = 0;
let cpuAtFirst: NodeJS.CpuUsage | undefined;
let peakRss = process.memoryUsage().rss;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
const stop = await contender.startWorker(
  url!,
  Number(concurrency),
  () => {
    if (first === 0) {
      first = Date.now();
      cpuAtFirst = process.cpuUsage();
      console.log(`first ${first}`);
    }
  },
  Number(handlerMs ?? 0),
);
console.log("ready");
process.on("SIGTERM", () => {
  void stop().finally(() => {
    clearInterval(sampler);
    // The kernel's high-water mark of this process image also catches peaks between samples.
    // Not resourceUsage().maxRSS: Linux carries it over exec from the forking process, so it
    // reported the bench driver's size whenever that was larger (every contender alike).
    peakRss = Math.max(peakRss, highWaterRss() ?? 0);
    console.log(`rss ${peakRss}`);
    const cpu = process.cpuUsage(cpuAtFirst);
    console.log(`cpu ${Math.round((cpu.user + cpu.system) / 1000)}`);
    process.exit(0);
  });
});
