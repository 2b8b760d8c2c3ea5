import { BACKOFF_BASE_DEFAULT_MS, BACKOFF_MAX_DEFAULT_MS, RECONNECT_DELAY_FIRST_MS, RECONNECT_DELAY_MAX_MS } from "../config/defaults.js";

import type { BackoffSettings } from "../config/resolve.js";

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
  return Math.min(RECONNECT_DELAY_MAX_MS, RECONNECT_DELAY_FIRST_MS * 2 ** Math.max(0, failures - 1));
}

/**
 * The consecutive failures of one database operation (a claim, a write, the LISTEN connection,
 * a periodic task), and how long to wait before trying it again. Every service that talks to
 * the database keeps one, so an outage never stops a worker for good and never spins it.
 */
export class FailureBackoff {
  #failures = 0;

  /** Counts a failure; returns the wait before the next try (reconnectDelayMs). */
  failed(): number {
    this.#failures++;
    return reconnectDelayMs(this.#failures);
  }

  succeeded(): void {
    this.#failures = 0;
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
