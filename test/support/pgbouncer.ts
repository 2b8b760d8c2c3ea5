// A real PgBouncer (Debian's package) in transaction mode in front of the test PostgreSQL, on a
// free port, configured in a temporary directory. .ci/run installs it; without CI a missing
// pgbouncer skips the tests that need it, in CI it fails them.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface PgBouncer {
  /** `url` with host and port replaced by PgBouncer's. */
  url: string;
  version: string;
  stop(): Promise<void>;
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

/** Starts PgBouncer in transaction mode in front of the server `url` points at. */
export async function startPgBouncer(url: string, binary: string): Promise<PgBouncer> {
  const target = new URL(url);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "sidetrack-pgbouncer-"));
  // pgbouncer refuses to run as root: it drops to `postgres` (-u), which must read these files.
  chmodSync(dir, 0o755);
  const ini = join(dir, "pgbouncer.ini");
  writeFileSync(
    ini,
    [
      "[databases]",
      // auth_type any logs every client in as this one user (the test server trusts it).
      `* = host=${target.hostname} port=${target.port || 5432} user=${decodeURIComponent(target.username) || "postgres"}`,
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "unix_socket_dir =",
      "auth_type = any",
      "pool_mode = transaction",
      "max_client_conn = 200",
      "default_pool_size = 6",
      "ignore_startup_parameters = extra_float_digits,options,application_name",
      "",
    ].join("\n"),
  );
  chmodSync(ini, 0o644);
  const version = spawnSync(binary, ["--version"], { encoding: "utf8" }).stdout.split("\n")[0]!.trim();
  const args = process.getuid?.() === 0 ? ["-u", "postgres", ini] : [ini];
  const child: ChildProcess = spawn(binary, args, { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (log += chunk));
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  for (let i = 0; !(await accepting(port)); i++) {
    if (child.exitCode !== null || i > 200) {
      child.kill("SIGKILL");
      throw new Error(`pgbouncer did not start on port ${port}:\n${log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  const bounced = new URL(url);
  bounced.hostname = "127.0.0.1";
  bounced.port = String(port);
  return {
    url: bounced.toString(),
    version,
    async stop() {
      child.kill("SIGTERM");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
