import { SidetrackValidationError } from "../errors.js";

/** The schema Sidetrack's tables live in unless configured otherwise. */
export const DEFAULT_SCHEMA = "sidetrack";

// Schema names become part of NOTIFY channel names (max 63 bytes), so keep them short.
const SCHEMA_PATTERN = /^[A-Za-z_][A-Za-z0-9_$]{0,39}$/;
// Queue names appear in generated function names (insertFooBar) and in CLI output.
const QUEUE_PATTERN = /^[A-Za-z][A-Za-z0-9_]{0,99}$/;

export function validateSchemaName(schema: string): string {
  if (typeof schema !== "string" || !SCHEMA_PATTERN.test(schema)) {
    throw new SidetrackValidationError(
      `invalid schema name ${JSON.stringify(schema)}: use 1-40 letters, digits, _ or $, starting with a letter or _`,
    );
  }
  return schema;
}

export function isValidQueueName(name: unknown): name is string {
  return typeof name === "string" && QUEUE_PATTERN.test(name);
}

export function validateQueueName(name: unknown): string {
  if (!isValidQueueName(name)) {
    throw new SidetrackValidationError(
      `invalid queue name ${JSON.stringify(name)}: use 1-100 letters, digits or _, starting with a letter`,
      typeof name === "string" ? name : undefined,
    );
  }
  return name;
}

/** Quotes an identifier for SQL. Names are validated first; quoting is the second line of defence. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** The jobs table's qualified name, as a value for statements that take it as `regclass`. */
export function jobsTableName(schema: string): string {
  return `${quoteIdent(schema)}.jobs`;
}

/** The channel inserts notify and workers listen on; one per schema so two installations don't wake each other. */
export function jobsChannel(schema: string): string {
  return `sidetrack_jobs_${schema}`;
}

/** The channel a queue's pause is announced on: workers give back the jobs they claimed ahead. */
export function pauseChannel(schema: string): string {
  return `sidetrack_pause_${schema}`;
}

/** The channel a cancel of a running job is announced on. */
export function cancelChannel(schema: string): string {
  return `sidetrack_cancel_${schema}`;
}

/**
 * A job id as text: 1 to 18 digits, so it always fits a bigint. The SQL side of the same rule
 * is JOB_ID_SQL_PATTERN in db/sql/fragments.ts.
 */
export const JOB_ID_PATTERN = /^[0-9]{1,18}$/;

export function isJobId(id: unknown): boolean {
  return (typeof id === "string" || typeof id === "number") && JOB_ID_PATTERN.test(String(id));
}
