import { SidetrackValidationError } from "../errors.js";

/** A duration: milliseconds as a number, or a string such as "500ms", "30s", "2m", "1h", "1d". */
export type Duration = number | `${number}${"ms" | "s" | "m" | "h" | "d"}`;

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION_PATTERN = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/**
 * Parses a Duration into whole milliseconds. `what` names the setting in the error
 * message, e.g. `queue "sendInvoice" option timeout`.
 */
export function parseDuration(value: unknown, what: string): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0) {
      throw new SidetrackValidationError(`${what} must be a non-negative number of milliseconds, got ${String(value)}`);
    }
    return Math.round(value);
  }
  if (typeof value === "string") {
    const match = DURATION_PATTERN.exec(value.trim());
    if (match) return Math.round(Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS]);
  }
  throw new SidetrackValidationError(
    `${what} must be milliseconds or a string like "500ms", "30s", "2m", "1h", got ${JSON.stringify(value)}`,
  );
}
