// `return snooze("30s")` from a handler: the job goes back to `scheduled` after the delay
// without spending an attempt. The marker is a class so a handler's ordinary output can never be
// mistaken for it (an object with a `delayMs` field is just output).
import { parseDuration, type Duration } from "../config/duration.js";
import type { Snooze } from "../types.js";

/** Longest snooze: the same bound as an insert's delay (100 years), so run_at stays representable. */
const MAX_SNOOZE_MS = 100 * 365 * 86_400_000;

export class SnoozeRequest implements Snooze {
  constructor(readonly delayMs: number) {}
}

/**
 * What a handler returns to run its job again after `delay` (ms or "30s"), without spending an
 * attempt. A bad delay throws here, so the attempt fails naming it.
 */
export function snooze(delay: Duration): Snooze {
  const delayMs = parseDuration(delay, "snooze(delay)");
  if (delayMs > MAX_SNOOZE_MS) throw new RangeError(`snooze(delay) must be at most 100 years, got ${delayMs}ms`);
  return new SnoozeRequest(delayMs);
}
