import { reconnectDelayMs } from "./backoff.js";

/**
 * Runs `task` every `intervalMs` until stopped, never two at once. A failing task is reported
 * and retried with growing delays (database outages), then back to the normal interval.
 */
export class Periodic {
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #stopped = true;
  #failures = 0;

  constructor(
    private readonly intervalMs: number,
    private readonly task: () => Promise<void>,
    private readonly onError: (error: unknown) => void,
  ) {}

  start(runNow = false): void {
    this.#stopped = false;
    this.#schedule(runNow ? 0 : this.intervalMs);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#inFlight;
  }

  #schedule(delay: number): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#inFlight = this.#run().finally(() => (this.#inFlight = undefined));
    }, delay);
  }

  async #run(): Promise<void> {
    try {
      await this.task();
      this.#failures = 0;
      this.#schedule(this.intervalMs);
    } catch (error) {
      this.#failures++;
      this.onError(error);
      this.#schedule(Math.min(this.intervalMs, reconnectDelayMs(this.#failures)));
    }
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
