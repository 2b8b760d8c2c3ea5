import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

const workerScript = fileURLToPath(new URL("./worker-process.ts", import.meta.url));

export interface WorkerProcess {
  child: ChildProcess;
  /** Resolves with the first stdout line matching `pattern`. */
  waitForLine(pattern: RegExp): Promise<string>;
  /** All stdout so far. */
  output(): string;
  exited: Promise<number | null>;
}

/** Starts test/support/worker-process.ts (or another worker script) in its own Node process. */
export function spawnWorker(env: Record<string, string>, script = workerScript): WorkerProcess {
  const child = spawn(process.execPath, ["--import", "tsx", script], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  const waiters: { pattern: RegExp; resolve: (line: string) => void }[] = [];
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
    for (const w of [...waiters]) {
      const line = stdout.split("\n").find((l) => w.pattern.test(l));
      if (line !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  });
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => process.stderr.write(`[worker ${child.pid}] ${chunk}`));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return {
    child,
    output: () => stdout,
    exited,
    waitForLine(pattern) {
      const line = stdout.split("\n").find((l) => pattern.test(l));
      if (line !== undefined) return Promise.resolve(line);
      return new Promise((resolve, reject) => {
        waiters.push({ pattern, resolve });
        void exited.then((code) => reject(new Error(`worker exited (${code}) before printing ${pattern}:\n${stdout}`)));
      });
    },
  };
}
