// One burn-down worker process: `tsx bench/worker.ts <contender> <url> <concurrency>`.
// Prints `first <epoch ms>` when its first job starts; on SIGTERM stops and prints `rss <bytes>`.
import { contenders } from "./contenders/index.js";

const [name, url, concurrency] = process.argv.slice(2);
const contender = contenders[name!]!;
let first = 0;
let peakRss = process.memoryUsage().rss;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);
const stop = await contender.startWorker(url!, Number(concurrency), () => {
  if (first === 0) {
    first = Date.now();
    console.log(`first ${first}`);
  }
});
console.log("ready");
process.on("SIGTERM", () => {
  void stop().finally(() => {
    clearInterval(sampler);
    // maxRSS (KiB) also catches peaks between samples.
    peakRss = Math.max(peakRss, process.resourceUsage().maxRSS * 1024);
    console.log(`rss ${peakRss}`);
    process.exit(0);
  });
});
