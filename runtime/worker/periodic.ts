import { FailureBackoff } from "./backoff.js";

/**
 * Runs `task` every `intervalMs` until stopped, never two at once. A failing task is reported
 * and retried with growing delays (database outages), then back to the normal interval.
 */
export class Periodic {
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #stopped = true;
  readonly #backoff = new FailureBackoff();

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
      this.#backoff.succeeded();
      this.#schedule(this.intervalMs);
    } catch (error) {
      const delay = this.#backoff.failed();
      this.onError(error);
      this.#schedule(Math.min(this.intervalMs, delay));
    }
  }
}
