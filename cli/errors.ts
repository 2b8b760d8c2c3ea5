import { SidetrackConnectionError, SidetrackError, SidetrackMigrationError } from "../runtime/index.js";
import { classifyDriverError, type Endpoint } from "../runtime/db/driver-errors.js";

/** Exit codes of every command (documented in docs/cli.md). */
export const EXIT = {
  ok: 0,
  /** The command ran and failed, or found what CI should fail on (pending migrations). */
  failure: 1,
  /** The command line was wrong: unknown flag, bad value, missing argument. Nothing was done. */
  usage: 2,
} as const;

/**
 * An error meant for the person at the terminal: printed as one line saying what is wrong,
 * then one line saying how to fix it; never a stack trace.
 */
export class CliError extends Error {
  override name = "CliError";
  constructor(
    message: string,
    readonly fix?: string,
    readonly exitCode: number = EXIT.failure,
  ) {
    super(message);
  }
}

export const GENERIC_USAGE_FIX = "see `sidetrack --help`";

export class UsageError extends CliError {
  override name = "UsageError";
  constructor(message: string, fix = GENERIC_USAGE_FIX) {
    super(message, fix, EXIT.usage);
  }
}

export type { Endpoint };

const CONNECTION_FIX = "check that PostgreSQL is running and reachable there, or pass the right --database-url (or DATABASE_URL)";

/**
 * Turns what the pg driver throws (directly, or as the cause of the Sidetrack error the API made
 * of it) into a CliError a person can act on, worded for the terminal from the runtime's one
 * reading of driver errors. Returns undefined for anything it does not recognise.
 */
export function classifyDatabaseError(error: unknown, endpoint: Endpoint, schema?: string): CliError | undefined {
  const driverError =
    (error instanceof SidetrackConnectionError || error instanceof SidetrackMigrationError) && error.cause !== undefined ? error.cause : error;
  const problem = classifyDriverError(driverError, endpoint);
  if (!problem) return undefined;
  if (problem.kind === "not-migrated") return notMigrated(schema ?? "sidetrack");
  const where = `${problem.host}:${problem.port}`;
  switch (problem.kind) {
    case "unreachable":
      return new CliError(`cannot connect to PostgreSQL at ${where}: ${problem.reason}${problem.code ? ` (${problem.code})` : ""}`, CONNECTION_FIX);
    case "connection-lost":
      return new CliError(`lost the connection to PostgreSQL at ${where}: ${problem.message}`, CONNECTION_FIX);
    case "authentication":
      return new CliError(
        `PostgreSQL at ${where} refused user "${endpoint.user}": authentication failed (${problem.code}: ${problem.message})`,
        "check the user name and password in --database-url (or DATABASE_URL), and pg_hba.conf on the server",
      );
    case "no-database":
      return new CliError(
        `database "${endpoint.database}" does not exist on ${where}`,
        `create it (createdb ${endpoint.database}) or name an existing database in --database-url`,
      );
    case "not-ready":
      return new CliError(`PostgreSQL at ${where} is not accepting connections yet: ${problem.message}`, "wait until it has started, then retry");
    case "no-slots":
      return new CliError(`PostgreSQL at ${where} has no connection slots left: ${problem.message}`, "retry later, or raise max_connections");
    case "password-required":
      return new CliError(
        `PostgreSQL at ${where} asked user "${endpoint.user}" for a password: authentication failed (${problem.message})`,
        "put the password in --database-url (postgres://USER:PASSWORD@HOST/DATABASE) or DATABASE_URL, or set PGPASSWORD",
      );
  }
}

export function notMigrated(schema: string, detail = "Sidetrack's tables are not there"): CliError {
  const flag = schema === "sidetrack" ? "" : ` --schema ${schema}`;
  return new CliError(`schema "${schema}" is not migrated: ${detail}`, `run \`sidetrack migrate${flag}\``);
}

/** Any error to a CliError: ours as they are, Sidetrack's validation errors with their message. */
export function toCliError(error: unknown, endpoint?: Endpoint, schema?: string): CliError {
  if (error instanceof CliError) return error;
  const classified = endpoint ? classifyDatabaseError(error, endpoint, schema) : undefined;
  if (classified) return classified;
  if (error instanceof SidetrackError) return new CliError(error.message);
  const message = error instanceof Error ? error.message : String(error);
  return new CliError(message || String(error));
}

/** The two lines every failure prints. */
export function formatCliError(error: CliError): string {
  return error.fix ? `error: ${error.message}\nfix:   ${error.fix}` : `error: ${error.message}`;
}
