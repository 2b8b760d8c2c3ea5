// One reading of what the pg driver throws, shared by the programmatic API (which turns it into
// Sidetrack errors) and the CLI (which words it for the terminal): by errno code for network
// errors, by SQLSTATE for server errors. Nothing here ever holds the password.
import { SidetrackConnectionError, SidetrackError, SidetrackMigrationError } from "../errors.js";

/** Where a connection was attempted. */
export interface Endpoint {
  host: string;
  port: number;
  database: string;
  user: string;
}

export type DriverProblem =
  | { kind: "unreachable"; host: string; port: number; reason: string; code?: string }
  | { kind: "connection-lost"; host: string; port: number; message: string }
  | { kind: "authentication"; host: string; port: number; code: string; message: string }
  | { kind: "password-required"; host: string; port: number; message: string }
  | { kind: "no-database"; host: string; port: number }
  | { kind: "not-migrated" }
  | { kind: "not-ready"; host: string; port: number; message: string }
  | { kind: "no-slots"; host: string; port: number; message: string };

interface DriverError {
  code?: string;
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

/** What went wrong, or undefined for an error this does not recognise. */
export function classifyDriverError(error: unknown, endpoint: Partial<Endpoint>): DriverProblem | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  // Node reports a host with several addresses (IPv4 and IPv6) as an AggregateError.
  const outer = error as DriverError;
  const e = outer.errors?.[0] && !outer.code ? outer.errors[0] : outer;
  const host = e.address ?? e.hostname ?? endpoint.host ?? "localhost";
  const port = e.port ?? endpoint.port ?? 5432;
  const code = e.code ?? "";
  if (NETWORK_REASONS[code]) return { kind: "unreachable", host, port, reason: NETWORK_REASONS[code], code };
  const message = e.message ?? "";
  if (/timeout expired|Connection terminated due to connection timeout/i.test(message)) {
    return { kind: "unreachable", host, port, reason: "connection timed out" };
  }
  if (/Connection terminated unexpectedly/i.test(message)) return { kind: "connection-lost", host, port, message };
  switch (code) {
    case "28P01": // invalid_password
    case "28000": // invalid_authorization_specification (no pg_hba entry, unknown role…)
      return { kind: "authentication", host, port, code, message };
    case "3D000": // invalid_catalog_name
      return { kind: "no-database", host, port };
    case "42P01": // undefined_table: Sidetrack's tables are missing
    case "3F000": // invalid_schema_name: so is its schema (a statement that names it in a string)
      return { kind: "not-migrated" };
    case "57P03": // cannot_connect_now: starting up or shutting down
      return { kind: "not-ready", host, port, message };
    case "53300": // too_many_connections
      return { kind: "no-slots", host, port, message };
  }
  // SASL/SCRAM without a password: pg throws a plain Error before the server says anything.
  if (/SASL|client password must be a string|password authentication/i.test(message)) return { kind: "password-required", host, port, message };
  return undefined;
}

/** Host and port of a connection string or pool configuration, for messages; never the password. */
export function endpointOf(config: { connectionString?: string; host?: string; port?: number; database?: string; user?: string } | undefined): Partial<Endpoint> {
  const endpoint: Partial<Endpoint> = {};
  if (config?.connectionString) {
    try {
      const url = new URL(config.connectionString);
      if (url.hostname) endpoint.host = decodeURIComponent(url.hostname);
      if (url.port) endpoint.port = Number(url.port);
      if (url.pathname.length > 1) endpoint.database = decodeURIComponent(url.pathname.slice(1));
      if (url.username) endpoint.user = decodeURIComponent(url.username);
    } catch {
      // Not a URL (e.g. "host=… port=…"): the driver's own error still names the address.
    }
  }
  if (config?.host) endpoint.host = config.host;
  if (config?.port) endpoint.port = Number(config.port);
  return endpoint;
}

/**
 * A driver error as the programmatic API reports it: SidetrackConnectionError when the server
 * cannot be reached or refuses the connection, SidetrackMigrationError when Sidetrack's tables
 * are missing; anything else unchanged. The driver's error stays as `cause`.
 */
export function toSidetrackError(error: unknown, endpoint: Partial<Endpoint>, schema: string): unknown {
  if (error instanceof SidetrackError) return error;
  const problem = classifyDriverError(error, endpoint);
  if (!problem) return error;
  if (problem.kind === "not-migrated") {
    return new SidetrackMigrationError(`schema "${schema}" is not migrated: run \`npx sidetrack migrate\` or call start()`, { cause: error });
  }
  const where = `${problem.host}:${problem.port}`;
  const detail = (() => {
    switch (problem.kind) {
      case "unreachable":
        return `cannot connect to PostgreSQL at ${where}: ${problem.reason}${problem.code ? ` (${problem.code})` : ""}`;
      case "connection-lost":
        return `lost the connection to PostgreSQL at ${where}: ${problem.message}`;
      case "authentication":
        return `PostgreSQL at ${where} refused user "${endpoint.user ?? ""}": authentication failed (${problem.code}: ${problem.message})`;
      case "password-required":
        return `PostgreSQL at ${where} asked for a password: authentication failed (${problem.message})`;
      case "no-database":
        return `database "${endpoint.database ?? ""}" does not exist on ${where}`;
      case "not-ready":
        return `PostgreSQL at ${where} is not accepting connections yet: ${problem.message}`;
      case "no-slots":
        return `PostgreSQL at ${where} has no connection slots left: ${problem.message}`;
    }
  })();
  return new SidetrackConnectionError(detail, problem.host, problem.port, { cause: error });
}
