// Lock-ahead: jobs a worker has claimed beyond its free slots, held in a local buffer so a slot
// that frees starts its next job at once instead of waiting for a claim's round trip.
//
// The buffer's size follows what the worker observes: completions per second times the claim's
// round trip, a few claims' worth (PREFETCH_CLAIMS_AHEAD), capped. Slow handlers complete rarely,
// so the target falls to nothing and jobs spread over every worker instead of being hoarded by
// the first to claim. Buffered jobs are leased like running ones (the heartbeat renews them);
// each carries the local time its lease runs out, and one whose lease may have lapsed is never
// started: another worker may already have rescued it.
import {
  LEASE_START_MARGIN_FRACTION,
  PREFETCH_CLAIMS_AHEAD,
  PREFETCH_RATE_FALL,
  PREFETCH_RATE_SAMPLE_MS,
  PREFETCH_RATE_WINDOW_MS,
} from "../config/defaults.js";
import type { Prefetch } from "../config/resolve.js";
import type { Job } from "../types.js";

interface Buffered {
  job: Job;
  /** The local clock when the job was received from its claim. */
  receivedAt: number;
  /** The local clock after which the lease may have lapsed (with the safety margin). */
  startBy: number;
}

/**
 * Completions per second, from samples taken at most every PREFETCH_RATE_SAMPLE_MS. A rise is
 * taken at once: a worker starting on a full queue is held back by its own window (its free
 * slots plus the buffer the rate allows), so the rate it sees is what that window permits, and
 * following it at once lets the buffer grow severalfold with each sample instead of creeping up
 * over the first second of work. A fall is followed gradually, by PREFETCH_RATE_FALL of the gap
 * per 100 ms however often it is sampled, so one slow moment (a pause, a checkpoint) does not
 * empty the buffer, while handlers that turn slow still bring it to nothing within a second or two.
 */
class CompletionRate {
  perSecond = 0;

  add(sample: number, elapsedMs: number): void {
    if (sample >= this.perSecond) this.perSecond = sample;
    else this.perSecond -= (this.perSecond - sample) * (1 - (1 - PREFETCH_RATE_FALL) ** (elapsedMs / 100));
  }
}

/** Exponentially weighted moving average: recent samples count most, one outlier little. */
class Ewma {
  value = 0;
  #seen = false;
  add(sample: number, weight = 0.3): void {
    this.value = this.#seen ? this.value * (1 - weight) + sample * weight : sample;
    this.#seen = true;
  }
}

export class LockAhead {
  readonly #buffer: Buffered[] = [];
  readonly #perQueue = new Map<string, number>();
  readonly #rate = new CompletionRate();
  readonly #roundTripMs = new Ewma();
  #completedInWindow = 0;
  #windowStart: number;
  /** The newest samples of completions, oldest first (see #sampleRate). */
  readonly #recent: { completed: number; ms: number }[] = [];

  constructor(
    private readonly prefetch: Prefetch,
    private readonly leaseMs: number,
    /** The local monotonic clock (a parameter so tests can move it). */
    private readonly now: () => number = () => performance.now(),
  ) {
    this.#windowStart = now();
  }

  /** How many jobs the buffer should hold now. */
  target(): number {
    if (this.prefetch.kind === "fixed") return this.prefetch.size;
    this.#sampleRate();
    const wanted = Math.floor((this.#rate.perSecond * this.#roundTripMs.value * PREFETCH_CLAIMS_AHEAD) / 1000);
    return Math.min(this.prefetch.max, wanted);
  }

  get size(): number {
    return this.#buffer.length;
  }

  bufferedOf(queue: string): number {
    return this.#perQueue.get(queue) ?? 0;
  }

  /** A job finished: feeds the completion rate. */
  completed(): void {
    this.#completedInWindow++;
  }

  /** A claim sent at `sentAt` (on the same clock) came back now. */
  claimed(sentAt: number): void {
    this.#roundTripMs.add(this.now() - sentAt);
  }

  /** Holds jobs of a claim sent at `sentAt`; their lease runs from before the claim was sent. */
  add(jobs: readonly Job[], sentAt: number): void {
    const now = this.now();
    const startBy = sentAt + this.leaseMs * (1 - LEASE_START_MARGIN_FRACTION);
    for (const job of jobs) {
      this.#buffer.push({ job, receivedAt: now, startBy });
      this.#perQueue.set(job.queue, this.bufferedOf(job.queue) + 1);
    }
  }

  /**
   * The next job `canStart` accepts, in claim order (priority, run_at, id), with how long it was
   * buffered. Jobs whose lease may have lapsed are taken out and handed to `lapsed` instead.
   */
  take(canStart: (queue: string) => boolean, lapsed: (job: Job) => void): { job: Job; bufferedMs: number } | undefined {
    const now = this.now();
    for (let i = 0; i < this.#buffer.length; i++) {
      const entry = this.#buffer[i]!;
      if (entry.startBy <= now) {
        this.#remove(i--);
        lapsed(entry.job);
        continue;
      }
      if (!canStart(entry.job.queue)) continue;
      this.#remove(i);
      return { job: entry.job, bufferedMs: Math.max(0, Math.round(now - entry.receivedAt)) };
    }
    return undefined;
  }

  ids(): string[] {
    return this.#buffer.map((b) => b.job.id);
  }

  /** A lease renewal sent at `sentAt` kept `held`; the others were cancelled or rescued meanwhile. */
  renewed(held: ReadonlySet<string>, sentAt: number): void {
    const startBy = sentAt + this.leaseMs * (1 - LEASE_START_MARGIN_FRACTION);
    for (let i = 0; i < this.#buffer.length; i++) {
      const entry = this.#buffer[i]!;
      if (held.has(entry.job.id)) entry.startBy = Math.max(entry.startBy, startBy);
      else this.#remove(i--);
    }
  }

  /** Empties the buffer (stop, or a queue that must not run): the jobs to give back. */
  drain(filter: (job: Job) => boolean = () => true): Job[] {
    const out: Job[] = [];
    for (let i = 0; i < this.#buffer.length; i++) {
      if (!filter(this.#buffer[i]!.job)) continue;
      out.push(this.#buffer[i]!.job);
      this.#remove(i--);
    }
    return out;
  }

  #remove(index: number): void {
    const [entry] = this.#buffer.splice(index, 1);
    this.#perQueue.set(entry!.job.queue, this.bufferedOf(entry!.job.queue) - 1);
  }

  /**
   * Folds the completions counted since the last sample into the rate, at most every
   * PREFETCH_RATE_SAMPLE_MS, as the rate over the newest samples that span PREFETCH_RATE_WINDOW_MS:
   * handlers that finish together (slow jobs started by one claim) then count as what they are
   * over the window, not as a burst of one sample.
   */
  #sampleRate(): void {
    const now = this.now();
    const elapsed = now - this.#windowStart;
    if (elapsed < PREFETCH_RATE_SAMPLE_MS) return;
    this.#recent.push({ completed: this.#completedInWindow, ms: elapsed });
    this.#completedInWindow = 0;
    this.#windowStart = now;
    let ms = this.#recent.reduce((sum, sample) => sum + sample.ms, 0);
    while (ms - this.#recent[0]!.ms >= PREFETCH_RATE_WINDOW_MS) ms -= this.#recent.shift()!.ms;
    const completed = this.#recent.reduce((sum, sample) => sum + sample.completed, 0);
    this.#rate.add((completed * 1000) / ms, elapsed);
  }
}
