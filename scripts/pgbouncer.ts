// A real PgBouncer (Debian's package) in transaction mode in front of a PostgreSQL, on a free
// port, configured in a temporary directory: used by the PgBouncer tests and by
// `npm run chaos -- --pgbouncer`, which also restarts it on the same port mid-run.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * How PgBouncer 1.18 is stopped. "immediate" (SIGTERM, the console's SHUTDOWN) closes every
 * client and server connection at once, queries and transactions in flight included. "safe"
 * (SIGINT, the console's PAUSE then SHUTDOWN) first waits for the queries in flight to finish,
 * holding new ones back, then closes every connection.
 */
export type PgBouncerStopMode = "immediate" | "safe";

export interface PgBouncer {
  /** The given `url` with host and port replaced by PgBouncer's. */
  url: string;
  port: number;
  version: string;
  /**
   * Stops PgBouncer (`mode`), keeps it down for `downForMs`, and starts it again on the same
   * port with the same configuration; resolves once it accepts connections again.
   */
  restart(mode: PgBouncerStopMode, downForMs?: number): Promise<void>;
  stop(): Promise<void>;
}

export interface PgBouncerOptions {
  /** Server connections per database and user (`default_pool_size`). Default 6. */
  poolSize?: number;
  /**
   * After a failed login to the server (PostgreSQL restarting), how long PgBouncer refuses
   * clients before it tries again (`server_login_retry`). Default: PgBouncer's, 15 s.
   */
  serverLoginRetrySeconds?: number;
}

/** The pgbouncer binary (Debian installs it in /usr/sbin, often not on a non-root PATH), or undefined. */
export function findPgBouncer(): string | undefined {
  const which = spawnSync("sh", ["-c", "command -v pgbouncer"], { encoding: "utf8" });
  const found = which.status === 0 ? which.stdout.trim() : "";
  if (found) return found;
  return existsSync("/usr/sbin/pgbouncer") ? "/usr/sbin/pgbouncer" : undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

async function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** A libpq-style connection-string value, quoted so that spaces and quotes survive. */
function quoted(value: string): string {
  return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

/** Starts PgBouncer in transaction mode in front of the server `url` points at. */
export async function startPgBouncer(url: string, binary: string, options: PgBouncerOptions = {}): Promise<PgBouncer> {
  const target = new URL(url);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "sidetrack-pgbouncer-"));
  // pgbouncer refuses to run as root: it drops to `postgres` (-u), which must read these files.
  chmodSync(dir, 0o755);
  const ini = join(dir, "pgbouncer.ini");
  const user = decodeURIComponent(target.username) || "postgres";
  // auth_type any logs every client in as this one user; a password-protected server (the
  // embedded one) gets the password from this line.
  const password = target.password ? ` password=${quoted(decodeURIComponent(target.password))}` : "";
  writeFileSync(
    ini,
    [
      "[databases]",
      `* = host=${target.hostname} port=${target.port || 5432} user=${user}${password}`,
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "unix_socket_dir =",
      "auth_type = any",
      "pool_mode = transaction",
      "max_client_conn = 200",
      `default_pool_size = ${options.poolSize ?? 6}`,
      ...(options.serverLoginRetrySeconds === undefined ? [] : [`server_login_retry = ${options.serverLoginRetrySeconds}`]),
      "ignore_startup_parameters = extra_float_digits,options,application_name",
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  if (process.getuid?.() === 0) spawnSync("chown", ["postgres", ini]);
  const version = spawnSync(binary, ["--version"], { encoding: "utf8" }).stdout.split("\n")[0]!.trim();
  const args = process.getuid?.() === 0 ? ["-u", "postgres", ini] : [ini];

  let child: ChildProcess;
  let exited: Promise<void>;
  const launch = async () => {
    child = spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (log += chunk));
    exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
    for (let i = 0; !(await accepting(port)); i++) {
      if (child.exitCode !== null || i > 200) {
        child.kill("SIGKILL");
        throw new Error(`pgbouncer did not start on port ${port}:\n${log}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  };
  const halt = async (mode: PgBouncerStopMode) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(mode === "safe" ? "SIGINT" : "SIGTERM");
    // A safe shutdown waits for the queries in flight; one that never ends would hold it forever.
    const fallback = mode === "safe" ? setTimeout(() => child.kill("SIGTERM"), 10_000) : undefined;
    await exited;
    clearTimeout(fallback);
  };
  await launch();
  const bounced = new URL(url);
  bounced.hostname = "127.0.0.1";
  bounced.port = String(port);
  return {
    url: bounced.toString(),
    port,
    version,
    async restart(mode, downForMs = 0) {
      await halt(mode);
      if (downForMs > 0) await new Promise((resolve) => setTimeout(resolve, downForMs));
      await launch();
    },
    async stop() {
      await halt("immediate");
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
