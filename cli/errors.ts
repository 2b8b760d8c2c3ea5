import { SidetrackError } from "../runtime/index.js";

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

/** Where the CLI tried to connect, for messages (never includes the password). */
export interface Endpoint {
  host: string;
  port: number;
  database: string;
  user: string;
}

interface DriverError {
  code?: string;
  errno?: number;
  address?: string;
  port?: number;
  hostname?: string;
  message?: string;
  errors?: DriverError[];
}

const NETWORK_REASONS: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "host name lookup failed",
  ETIMEDOUT: "connection timed out",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ECONNRESET: "connection reset by the server",
  EPIPE: "connection closed by the server",
  ENOENT: "no socket file there",
};

const CONNECTION_FIX = "check that PostgreSQL is running and reachable there, or pass the right --database-url (or DATABASE_URL)";

/**
 * Turns what the pg driver throws into a CliError a person can act on, by SQLSTATE for
 * server errors and by errno code for network errors. Returns undefined for anything it
 * does not recognise (the caller prints that error's own message).
 */
export function classifyDatabaseError(error: unknown, endpoint: Endpoint, schema?: string): CliError | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  // Node reports a host with several addresses (IPv4 and IPv6) as an AggregateError.
  const e = (error as DriverError).errors?.[0] && !(error as DriverError).code ? (error as DriverError).errors![0]! : (error as DriverError);
  const where = `${e.address ?? e.hostname ?? endpoint.host}:${e.port ?? endpoint.port}`;
  const code = e.code ?? "";
  if (NETWORK_REASONS[code]) {
    return new CliError(`cannot connect to PostgreSQL at ${where}: ${NETWORK_REASONS[code]} (${code})`, CONNECTION_FIX);
  }
  const message = e.message ?? "";
  if (/timeout expired|Connection terminated due to connection timeout/i.test(message)) {
    return new CliError(`cannot connect to PostgreSQL at ${where}: connection timed out`, CONNECTION_FIX);
  }
  if (/Connection terminated unexpectedly/i.test(message)) {
    return new CliError(`lost the connection to PostgreSQL at ${where}: ${message}`, CONNECTION_FIX);
  }
  switch (code) {
    case "28P01": // invalid_password
    case "28000": // invalid_authorization_specification (no pg_hba entry, unknown role…)
      return new CliError(
        `PostgreSQL at ${where} refused user "${endpoint.user}": authentication failed (${code}: ${message})`,
        "check the user name and password in --database-url (or DATABASE_URL), and pg_hba.conf on the server",
      );
    case "3D000": // invalid_catalog_name
      return new CliError(
        `database "${endpoint.database}" does not exist on ${where}`,
        `create it (createdb ${endpoint.database}) or name an existing database in --database-url`,
      );
    case "42P01": // undefined_table: our tables are missing
      return notMigrated(schema ?? "sidetrack");
    case "57P03": // cannot_connect_now: starting up or shutting down
      return new CliError(`PostgreSQL at ${where} is not accepting connections yet: ${message}`, "wait until it has started, then retry");
    case "53300": // too_many_connections
      return new CliError(`PostgreSQL at ${where} has no connection slots left: ${message}`, "retry later, or raise max_connections");
  }
  // SASL/SCRAM without a password: pg throws a plain Error before the server says anything.
  if (/SASL|client password must be a string|password authentication/i.test(message)) {
    return new CliError(
      `PostgreSQL at ${where} asked user "${endpoint.user}" for a password: authentication failed (${message})`,
      "put the password in --database-url (postgres://USER:PASSWORD@HOST/DATABASE) or DATABASE_URL, or set PGPASSWORD",
    );
  }
  return undefined;
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
