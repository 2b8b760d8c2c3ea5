import { userInfo } from "node:os";
import pg from "pg";
import type { Argv } from "yargs";
import { DEFAULT_SCHEMA, migrationStatus, SidetrackValidationError } from "../runtime/index.js";
import { MIGRATIONS } from "../runtime/db/migrations/index.js";
import { validateSchemaName } from "../runtime/config/identifiers.js";
import { notMigrated, toCliError, UsageError, type Endpoint } from "./errors.js";
import { displayUrl, registerConnectionSecrets } from "./redact.js";

export interface ConnectionArgs {
  databaseUrl?: string;
  schema: string;
}

/** The flags every command that talks to PostgreSQL takes. */
export function connectionOptions<T>(y: Argv<T>): Argv<T & ConnectionArgs> {
  return y
    .option("database-url", {
      type: "string",
      describe: "PostgreSQL connection string (default: $DATABASE_URL)",
    })
    .option("schema", {
      type: "string",
      default: DEFAULT_SCHEMA,
      describe: "schema holding Sidetrack's tables",
    }) as unknown as Argv<T & ConnectionArgs>;
}

export interface Target {
  connectionString: string;
  schema: string;
  endpoint: Endpoint;
  /** The connection string without its password. */
  display: string;
}

/** Reads --database-url / DATABASE_URL and --schema, or says what is missing. */
export function resolveTarget(args: ConnectionArgs): Target {
  const connectionString = args.databaseUrl?.trim() || process.env.DATABASE_URL?.trim();
  if (!connectionString) {
    throw new UsageError(
      "no database given",
      "pass --database-url postgres://USER:PASSWORD@HOST:5432/DATABASE, or set DATABASE_URL",
    );
  }
  registerConnectionSecrets(connectionString);
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    // Not echoed: it may hold a password.
    throw new UsageError("the database URL is not a valid connection string", "use the form postgres://USER:PASSWORD@HOST:5432/DATABASE");
  }
  if (url.protocol !== "postgres:" && url.protocol !== "postgresql:") {
    throw new UsageError(`the database URL uses ${url.protocol}//, not postgres://`, "use the form postgres://USER:PASSWORD@HOST:5432/DATABASE");
  }
  let schema: string;
  try {
    schema = validateSchemaName(args.schema);
  } catch (error) {
    throw new UsageError(`--schema: ${(error as SidetrackValidationError).message}`);
  }
  const env = process.env;
  const user = decodeURIComponent(url.username) || env.PGUSER || userInfo().username;
  const endpoint: Endpoint = {
    host: url.hostname || url.searchParams.get("host") || env.PGHOST || "localhost",
    port: Number(url.port || env.PGPORT || 5432),
    database: decodeURIComponent(url.pathname.slice(1)) || env.PGDATABASE || user,
    user,
  };
  return { connectionString, schema, endpoint, display: displayUrl(connectionString) };
}

// A blackholed host would otherwise hang the CLI for minutes (the OS TCP timeout).
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * Runs fn with a pool on the target and always closes it. Connects once up front so an
 * unreachable server or a bad password is reported before anything else happens, and maps
 * every driver error to a one-line message with its fix.
 */
export async function withDatabase<T>(target: Target, fn: (pool: pg.Pool) => Promise<T>): Promise<T> {
  const pool = new pg.Pool({
    connectionString: target.connectionString,
    max: 4,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    application_name: "sidetrack-cli",
  });
  // An idle client dropping must not crash the CLI; the failing query reports it.
  pool.on("error", () => undefined);
  try {
    const client = await pool.connect();
    client.release();
    return await fn(pool);
  } catch (error) {
    throw toCliError(error, target.endpoint, target.schema);
  } finally {
    await pool.end().catch(() => undefined);
  }
}

/** Refuses to go on when the schema lacks any migration this version needs. */
export async function requireMigrated(pool: pg.Pool, schema: string): Promise<void> {
  const states = await migrationStatus({ pool, schema });
  const pending = states.filter((s) => s.status === "pending");
  if (pending.length === 0) return;
  if (pending.length === MIGRATIONS.length) throw notMigrated(schema);
  const names = pending.map((p) => migrationLabel(p.version, p.name));
  throw notMigrated(schema, `${pending.length} migration(s) pending (${names.join(", ")})`);
}

/** The target of `args`, connected, with every migration applied (else a CliError saying to migrate). */
export async function withMigrated(args: ConnectionArgs, fn: (pool: pg.Pool, target: Target) => Promise<void>): Promise<void> {
  const target = resolveTarget(args);
  await withDatabase(target, async (pool) => {
    await requireMigrated(pool, target.schema);
    await fn(pool, target);
  });
}

/** How a migration is named to people, e.g. `0001_jobs` (its file name without .sql). */
export function migrationLabel(version: number, name: string): string {
  return `${String(version).padStart(4, "0")}_${name}`;
}
