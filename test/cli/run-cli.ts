// Runs the real `sidetrack` CLI as a child process (bin/sidetrack.ts under tsx), the way a
// user runs it: arguments, environment, exit code, stdout and stderr.
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";

export const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Becomes DATABASE_URL; unset when omitted (the parent's DATABASE_URL never leaks in). */
  databaseUrl?: string;
  env?: Record<string, string>;
}

export interface RunningCli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<CliResult>;
}

export function startCli(args: string[], options: CliOptions = {}): RunningCli {
  const env: Record<string, string | undefined> = { ...process.env, FORCE_COLOR: "0", ...options.env };
  delete env.DATABASE_URL;
  if (options.databaseUrl !== undefined) env.DATABASE_URL = options.databaseUrl;
  const child = spawn(process.execPath, ["--import", "tsx", "bin/sidetrack.ts", ...args], { cwd: repoRoot, env, stdio: "pipe" });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (chunk) => (stdout += chunk));
  child.stderr!.on("data", (chunk) => (stderr += chunk));
  const exited = new Promise<CliResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, stdout: () => stdout, stderr: () => stderr, exited };
}

export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return startCli(args, options).exited;
}

/** Resolves once check() holds, or rejects with the CLI's output when it exits first. */
export async function waitFor(cli: RunningCli, check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  let exited: CliResult | undefined;
  void cli.exited.then((r) => (exited = r));
  for (;;) {
    if (await check()) return;
    if (exited) {
      throw new Error(`the CLI exited (code ${exited.code}) before ${what}\nstdout:\n${exited.stdout}\nstderr:\n${exited.stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}
