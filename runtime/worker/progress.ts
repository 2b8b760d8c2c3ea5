// ctx.progress(value): checked at once (a bad value throws in the handler, naming it), written at
// most once per PROGRESS_WRITE_INTERVAL_MS per job. The last value reported is handed to the
// job's outcome write (take()), so it always lands before, or with, the completion.
import { MAX_PROGRESS_BYTES, PROGRESS_WRITE_INTERVAL_MS } from "../config/defaults.js";
import { SidetrackValidationError } from "../errors.js";
import { assertJsonValue } from "../insert/payload.js";
import type { Job } from "../types.js";

export class ProgressReporter {
  /** The latest value reported, as JSON, until a write of it has landed. */
  #unwritten: string | undefined;
  #lastWriteAt = Number.NEGATIVE_INFINITY;
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> | undefined;
  #done = false;

  constructor(
    private readonly job: Job,
    private readonly write: (json: string) => Promise<void>,
    private readonly onError: (error: unknown) => void,
  ) {}

  report(value: unknown): void {
    assertJsonValue(value, this.job.queue, "progress");
    const json = JSON.stringify(value);
    const bytes = Buffer.byteLength(json, "utf8");
    if (bytes > MAX_PROGRESS_BYTES) {
      throw new SidetrackValidationError(`queue "${this.job.queue}": progress is ${bytes} bytes of JSON, over the limit of ${MAX_PROGRESS_BYTES}`, this.job.queue, "progress");
    }
    if (this.#done) return;
    this.#unwritten = json;
    this.#schedule();
  }

  /** Whether a value is waiting for its write. */
  get pending(): boolean {
    return this.#unwritten !== undefined;
  }

  /** Stops writing; returns the last value not known to be written, for the outcome write to carry. */
  take(): string | undefined {
    this.#done = true;
    clearTimeout(this.#timer);
    return this.#unwritten;
  }

  /** Stops writing and writes the last value now (before an outcome that cannot carry it). */
  async flush(): Promise<void> {
    const json = this.take();
    await this.#writing;
    if (json !== undefined) await this.#writeNow(json);
  }

  #schedule(): void {
    if (this.#timer || this.#writing) return;
    const wait = this.#lastWriteAt + PROGRESS_WRITE_INTERVAL_MS - Date.now();
    if (wait <= 0) void this.#writeLatest();
    else this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#writeLatest();
    }, wait);
  }

  async #writeLatest(): Promise<void> {
    const json = this.#unwritten;
    if (json === undefined || this.#done) return;
    this.#lastWriteAt = Date.now();
    this.#writing = this.#writeNow(json).finally(() => {
      this.#writing = undefined;
      if (this.#unwritten !== undefined && !this.#done) this.#schedule();
    });
  }

  async #writeNow(json: string): Promise<void> {
    try {
      await this.write(json);
      if (this.#unwritten === json) this.#unwritten = undefined;
    } catch (error) {
      this.onError(error);
    }
  }
}
