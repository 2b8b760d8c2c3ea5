import { BACKOFF_BASE_DEFAULT_MS, BACKOFF_MAX_DEFAULT_MS } from "../config/defaults.js";

export interface BackoffSettings {
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffSettings = { baseMs: BACKOFF_BASE_DEFAULT_MS, maxMs: BACKOFF_MAX_DEFAULT_MS };

/**
 * Delay before retrying after failed attempt number `attempt` (1-based):
 *   min(maxMs, baseMs * 2^(attempt - 1)) * jitter, jitter uniform in [0.5, 1).
 * Defaults: 1s, 2s, 4s … capped at 1h. Jitter keeps a burst of failures from retrying in lockstep.
 */
export function retryDelayMs(attempt: number, settings: BackoffSettings = DEFAULT_BACKOFF, random = Math.random): number {
  const exponential = Math.min(settings.maxMs, settings.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exponential * (0.5 + random() * 0.5));
}

/** Delay before the n-th consecutive retry of a failing database operation: 100ms doubling to 5s. */
export function reconnectDelayMs(failures: number): number {
  return Math.min(5_000, 100 * 2 ** Math.max(0, failures - 1));
}
