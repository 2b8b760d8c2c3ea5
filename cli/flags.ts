import { parseDuration } from "../runtime/config/duration.js";
import { isJobId } from "../runtime/config/identifiers.js";
import { UsageError } from "./errors.js";

// Flag values yargs cannot check by itself; a bad one is a usage error (exit 2).

export function positiveInteger(value: number, flag: string): number {
  if (!Number.isInteger(value) || value < 1) throw new UsageError(`${flag} must be a positive integer, got ${String(value)}`);
  return value;
}

/** "500ms", "30s", "2m", "1h", "1d", or a number of milliseconds. */
export function durationFlag(value: string, flag: string): number {
  try {
    return parseDuration(/^\d+$/.test(value) ? Number(value) : value, flag);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** A job id: a positive integer that fits the bigint column. */
export function jobIdFlag(value: string, what: string): string {
  if (!isJobId(value)) throw new UsageError(`${what} must be a positive integer (a job id), got ${JSON.stringify(value)}`);
  return String(value);
}
