import type pg from "pg";
import { CLAIMED_ROW_TYPES, parseClaimedJob, type ClaimedRow } from "../db/rows.js";
import type { Job } from "../types.js";
import { FailureBackoff, sleep } from "./backoff.js";
import { fetchJobsSql } from "../db/sql/fetchJobs.js";
import { claimLimitedPerKeySql, claimLimitedSql, lockQueuePoliciesSql } from "../db/sql/queues.js";
import { inTransaction } from "../db/clients.js";
import type { Completion } from "./completer.js";
import { CLAIM_HOLD_COMPLETIONS_MS } from "../config/defaults.js";
import { jobsTableName } from "../config/identifiers.js";
import type { StatementNames } from "../db/statement-names.js";

/** What the fetcher may claim right now: per-queue limits and the process total. */
export interface FreeSlots {
  queues: string[];
  limits: number[];
  total: number;
  /** The most the process holds at once (slots and lock-ahead buffer): each lane's claims take a share. */
  window: number;
  /** Nothing is buffered and a slot is free: the process is waiting for a claim. */
  starving: boolean;
  /** The fewest jobs worth a claim now: while `total` is below it, the claim waits for more room (PREFETCH_CLAIM_AT). */
  least: number;
}

export interface FetcherOptions {
  pool: pg.Pool;
  schema: string;
  workerId: string;
  /** Names the claims' statements, and learns the jobs table's size from each claim. */
  names: StatementNames;
  leaseMs: number;
  pollIntervalMs: number;
  /** Queues with a global, per-key or rate limit: claimed apart, in a transaction on their policy rows. */
  limitedQueues: ReadonlySet<string>;
  /** Claims that may be in flight at once (see Fetcher). */
  lanes: number;
  /** What to claim now, beside what the claims in flight may bring back; undefined: nothing. */
  freeSlots: (inFlight: InFlight) => FreeSlots | undefined;
  /** Completions to write in the claims (the worker's Completer), when there are any. */
  completions?: ClaimCompletions;
  /** Jobs of a claim sent at `sentAt` (performance.now()). */
  onJobs: (jobs: Job[], sentAt: number) => void;
  onError: (error: unknown) => void;
}

/**
 * What the fetcher needs of the Completer to write completions inside its claims. While
 * `claimsWriteCompletions(true)` is in force, each time the fetcher wakes it either claims,
 * taking what is waiting (`takeForClaim`) and reporting how that claim went (`claimCommitted` /
 * `claimFailed`), or it calls `flush()` so the completer writes them on its own.
 */
export interface ClaimCompletions {
  claimsWriteCompletions(on: boolean): void;
  /** performance.now() when the oldest completion waiting for a claim arrived; undefined when none waits. */
  waitingSince(): number | undefined;
  takeForClaim(): Completion[];
  claimCommitted(completions: readonly Completion[], completed: ReadonlySet<string>): void;
  claimFailed(completions: readonly Completion[]): void;
  flush(): void;
}

type ClaimResultRow = ClaimedRow & { completed_ids: string[] | null; jobs_table_bytes: number | null };

/** Jobs the claims in flight may still bring back: the process total and per queue. */
export interface InFlight {
  total: number;
  of(queue: string): number;
}

/**
 * What a lane claims: `all` (the only lane, with a pool too small for more) unlimited queues
 * and then limited ones; `plain` only unlimited queues; `limited` only limited ones.
 */
type Lane = "all" | "plain" | "limited";

/**
 * The fetch loop, in lanes: each lane sends one claim at a time. With a pool large enough, a
 * process runs two `plain` lanes, so a second claim can be in flight while the first is still
 * out and PostgreSQL works on the process's claims on two backends instead of one (with one, a
 * process that runs a claim's jobs faster than the server claims the next batch waits for it
 * between claims), and, when it has limited queues, a `limited` lane of their own, so a claim
 * waiting its turn on their policy rows never holds up the others. What a lane may claim is the
 * worker's `freeSlots` less what the claims in flight may still bring back, so together the
 * lanes never claim more than one would.
 *
 * A lane fetches when there may be work (a NOTIFY arrived, the poll interval passed, or the
 * newest claim came back full) and there is room. Wake-ups that arrive during a claim fold into
 * one follow-up claim, so a burst of notifications never becomes a burst of queries.
 *
 * While every slot is busy, the claim waits until the room is worth one (`least`, a share of the
 * lock-ahead buffer), so a worker whose jobs take a while claims in batches instead of after each
 * job that finishes.
 *
 * Each claim of unlimited queues also writes the completions that arrived since the previous
 * one, so a busy worker sends one statement per cycle. Whenever a lane wakes and will not claim
 * while no such claim is in flight, it hands them to the completer to write on their own, so a
 * completion never waits for work to arrive; only a claim held back for room keeps them, and for
 * CLAIM_HOLD_COMPLETIONS_MS at most.
 */
export class Fetcher {
  /**
   * Whether the queues may hold work, from the newest observation: a wake-up (maybe), or a claim
   * coming back full (yes) or short (no). Observations are ordered by `#sequence`, a claim's by
   * when it was sent, so a short claim sent before a wake-up or a newer full claim is outdated.
   */
  #mayHaveWork = true;
  #observedAt = 0;
  #sequence = 0;
  /** The newest claim came back full: the queues are busy, and the second plain lane claims too. */
  #busy = false;
  #busyAt = 0;
  /**
   * Whether to claim limited queues now. It costs a transaction, so it runs only when a limited
   * queue may have room: after a wake-up (NOTIFY, poll tick, reconnect), a job of a limited
   * queue finishing here, or a limited claim that came back full. Claims driven by the
   * unlimited queues (slots freed, full batches) skip it and keep their pace.
   */
  #limitedMayHaveWork = true;
  /** The first lane holds its claim back until the room is worth one (see FreeSlots.least). */
  #holding = false;
  /** Wakes the lanes when completions waiting for a held claim have waited long enough. */
  #holdTimer: NodeJS.Timeout | undefined;
  /** Claims in flight that carry completions (all but the limited lane's). */
  #carryingInFlight = 0;
  readonly #inFlightPerQueue = new Map<string, number>();
  readonly #inFlight: InFlight = {
    total: 0,
    of: (queue) => this.#inFlightPerQueue.get(queue) ?? 0,
  };
  #running = false;
  #lanes: Promise<void>[] = [];
  #poll: NodeJS.Timeout | undefined;
  #waiting: (() => void)[] = [];
  readonly #backoff = new FailureBackoff();
  readonly #sql: string;
  readonly #jobsTable: string;
  readonly #limitedSql: { plain: string; perKey: string };

  constructor(private readonly options: FetcherOptions) {
    this.#sql = fetchJobsSql(options.schema);
    this.#jobsTable = jobsTableName(options.schema);
    this.#limitedSql = { plain: claimLimitedSql(options.schema), perKey: claimLimitedPerKeySql(options.schema) };
  }

  start(): void {
    this.#running = true;
    this.options.completions?.claimsWriteCompletions(true);
    this.#poll = setInterval(() => this.wake(), this.options.pollIntervalMs);
    const lanes: Lane[] = this.options.lanes === 1 ? ["all"] : ["plain", "plain"];
    if (lanes.length > 1 && this.options.limitedQueues.size > 0) lanes.push("limited");
    this.#lanes = lanes.map((lane, i) => this.#run(lane, i === 1));
  }

  async stop(): Promise<void> {
    this.#running = false;
    clearInterval(this.#poll);
    clearTimeout(this.#holdTimer);
    this.#wakeLanes();
    await Promise.all(this.#lanes);
    this.options.completions?.claimsWriteCompletions(false);
  }

  /** There may be new work (a NOTIFY, a poll tick, a reconnect). */
  wake(): void {
    this.#observe(++this.#sequence, true);
    this.#limitedMayHaveWork = true;
    this.#wakeLanes();
  }

  /** A slot was freed: claim again if there may still be work. */
  slotFreed(queue?: string): void {
    if (queue !== undefined && this.options.limitedQueues.has(queue)) {
      this.#observe(++this.#sequence, true);
      this.#limitedMayHaveWork = true;
    }
    this.#wakeLanes();
  }

  #observe(at: number, mayHaveWork: boolean): void {
    if (at < this.#observedAt) return;
    this.#observedAt = at;
    this.#mayHaveWork = mayHaveWork;
  }

  #wakeLanes(): void {
    for (const resolve of this.#waiting.splice(0)) resolve();
  }

  /** `second`: the second plain lane, which claims only while the queues are busy. */
  async #run(lane: Lane, second: boolean): Promise<void> {
    const first = lane !== "limited" && !second;
    while (this.#running) {
      const free = this.#wanted(lane, second);
      if (first) this.#holding = free === "hold";
      if (free === undefined || free === "hold") {
        if (this.#carryingInFlight === 0) this.#writeCompletions();
        await new Promise<void>((resolve) => this.#waiting.push(resolve));
        // Let every job that finishes in this turn of the event loop free its slot first, so
        // the next claim fills them all in one statement instead of one claim per slot.
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      if (lane === "limited") await this.#claimLimitedLane(free);
      else await this.#claim(free, lane === "all");
    }
  }

  /**
   * Completions waiting for no claim in flight: written on their own now, unless the first lane
   * holds a claim back for room and the oldest has waited less than CLAIM_HOLD_COMPLETIONS_MS
   * (the lanes are woken when it has).
   */
  #writeCompletions(): void {
    const completions = this.options.completions;
    const since = completions?.waitingSince();
    const left = since === undefined ? 0 : since + CLAIM_HOLD_COMPLETIONS_MS - performance.now();
    if (!this.#holding || left <= 0) return completions?.flush();
    this.#holdTimer ??= setTimeout(() => {
      this.#holdTimer = undefined;
      this.#wakeLanes();
    }, left);
  }

  /** What `lane` should claim now, if anything; "hold": there is room, but not yet a claim's worth. */
  #wanted(lane: Lane, second: boolean): FreeSlots | "hold" | undefined {
    const limited = this.options.limitedQueues;
    if (lane === "limited") {
      if (!this.#limitedMayHaveWork) return undefined;
      const free = this.options.freeSlots(this.#inFlight);
      return free && nonEmpty(split(free, (queue) => limited.has(queue)));
    }
    // On a single wake-up one claim is enough; a second would come back empty.
    if (!this.#mayHaveWork || (second && !this.#busy)) return undefined;
    let free = this.options.freeSlots(this.#inFlight);
    if (!free) return undefined;
    // A second claim helps only a process that is waiting for the first: while jobs are still
    // buffered, one lane keeps up, and claims of the whole room cost the server less per job.
    if (second && !free.starving) return undefined;
    if (free.total < free.least) return "hold";
    if (lane === "plain" && limited.size > 0) free = split(free, (queue) => !limited.has(queue));
    // While starving, each claim takes half the window, so the second has room to leave too.
    if (this.options.lanes > 1 && free.starving) free = capped(free, Math.ceil(free.window / 2));
    return nonEmpty(free);
  }

  /**
   * One claim of at most `free`'s unlimited queues, with the completions waiting now riding in
   * it; with `andLimited`, then the limited queues (see #claimLimited).
   */
  async #claim(free: FreeSlots, andLimited: boolean): Promise<void> {
    const completions = this.options.completions;
    const riding = completions?.takeForClaim() ?? [];
    const sentAt = performance.now();
    const sentSequence = ++this.#sequence;
    const limited = this.options.limitedQueues;
    const plain = limited.size === 0 ? free : split(free, (queue) => !limited.has(queue));
    let ridingSettled = riding.length === 0;
    this.#reserve(free, 1, true);
    const jobs: Job[] = [];
    try {
      if (plain.queues.length > 0 || riding.length > 0) {
        const { rows } = await this.options.pool.query<ClaimResultRow>({
          // Named: parsed and planned once per connection, not on every claim.
          name: this.options.names.of("fetch"),
          text: this.#sql,
          types: CLAIMED_ROW_TYPES,
          values: [
            this.options.workerId,
            this.options.leaseMs,
            plain.queues,
            plain.limits,
            plain.total,
            riding.map((c) => c.job.id),
            riding.map((c) => c.bufferedMs),
            this.#jobsTable,
          ],
        });
        this.#backoff.succeeded();
        // One row carries no job, only which of the riding completions were written (never null there).
        let completed: string[] = [];
        for (const row of rows) {
          if (row.completed_ids === null) jobs.push(parseClaimedJob(row));
          else {
            completed = row.completed_ids;
            this.options.names.observeTableBytes(row.jobs_table_bytes!);
          }
        }
        if (riding.length > 0) completions!.claimCommitted(riding, new Set(completed));
        ridingSettled = true;
      }
      if (andLimited && plain !== free && this.#limitedMayHaveWork) {
        const rest = split(free, (queue) => limited.has(queue));
        rest.total = Math.min(rest.total, free.total - jobs.length);
        if (rest.total > 0 && rest.queues.length > 0) {
          this.#limitedMayHaveWork = false;
          const claimed = await this.#claimLimited(rest);
          if (anyQueueFull(claimed, rest)) this.#limitedMayHaveWork = true;
          jobs.push(...claimed);
        }
        this.#backoff.succeeded();
      }
      // A full batch (overall or for one queue) means more may be waiting; a short one means
      // drained, as of when it was sent.
      const full = jobs.length >= free.total || anyQueueFull(jobs, free);
      this.#observe(sentSequence, full);
      if (sentSequence > this.#busyAt) {
        this.#busyAt = sentSequence;
        this.#busy = full;
      }
    } catch (error) {
      if (!ridingSettled) completions!.claimFailed(riding);
      this.#observe(++this.#sequence, true);
      this.#limitedMayHaveWork = true;
      return this.#failed(free, true, error);
    }
    this.#delivered(free, true, jobs, sentAt);
  }

  /** The limited lane's claim (see #claimLimited). */
  async #claimLimitedLane(free: FreeSlots): Promise<void> {
    const sentAt = performance.now();
    this.#limitedMayHaveWork = false;
    this.#reserve(free, 1, false);
    let jobs: Job[];
    try {
      jobs = await this.#claimLimited(free);
      this.#backoff.succeeded();
      if (anyQueueFull(jobs, free)) this.#limitedMayHaveWork = true;
    } catch (error) {
      this.#limitedMayHaveWork = true;
      return this.#failed(free, false, error);
    }
    this.#delivered(free, false, jobs, sentAt);
  }

  /** In one step: the claimed jobs stop counting as in flight as they join the buffer. */
  #delivered(free: FreeSlots, carrying: boolean, jobs: Job[], sentAt: number): void {
    this.#reserve(free, -1, carrying);
    this.options.onJobs(jobs, sentAt);
  }

  async #failed(free: FreeSlots, carrying: boolean, error: unknown): Promise<void> {
    this.#reserve(free, -1, carrying);
    this.options.onError(error);
    await sleep(this.#backoff.failed());
  }

  /** Counts (`sign` 1) or uncounts (-1) a claim of `free` as in flight. */
  #reserve(free: FreeSlots, sign: 1 | -1, carrying: boolean): void {
    if (carrying) this.#carryingInFlight += sign;
    this.#inFlight.total += sign * free.total;
    free.queues.forEach((queue, i) => {
      const n = this.#inFlight.of(queue) + sign * Math.min(free.limits[i]!, free.total);
      if (n === 0) this.#inFlightPerQueue.delete(queue);
      else this.#inFlightPerQueue.set(queue, n);
    });
  }

  /**
   * Claims limited queues in one transaction: lock their policy rows (claimers of one limited
   * queue take turns), then one claim per queue, on a snapshot taken after the lock, so the
   * running jobs and recent starts it counts include every claim committed before.
   */
  async #claimLimited(free: FreeSlots): Promise<Job[]> {
    return inTransaction(this.options.pool, async (client) => {
      const { rows: policies } = await client.query<{ name: string; concurrency_per_key: number | null }>(
        lockQueuePoliciesSql(this.options.schema),
        [free.queues],
      );
      const jobs: Job[] = [];
      for (const policy of policies) {
        const left = free.total - jobs.length;
        if (left <= 0) break;
        const want = Math.min(left, free.limits[free.queues.indexOf(policy.name)]!);
        const perKey = policy.concurrency_per_key !== null;
        const { rows } = await client.query<ClaimedRow>({
          name: this.options.names.of(perKey ? "claim_limited_key" : "claim_limited"),
          text: perKey ? this.#limitedSql.perKey : this.#limitedSql.plain,
          types: CLAIMED_ROW_TYPES,
          values: [this.options.workerId, this.options.leaseMs, policy.name, want],
        });
        for (const row of rows) jobs.push(parseClaimedJob(row));
      }
      return jobs;
    });
  }
}

function nonEmpty(free: FreeSlots): FreeSlots | undefined {
  return free.queues.length > 0 ? free : undefined;
}

function capped(free: FreeSlots, most: number): FreeSlots {
  if (free.total <= most) return free;
  return { ...free, total: most, limits: free.limits.map((limit) => Math.min(limit, most)) };
}

function split(free: FreeSlots, keep: (queue: string) => boolean): FreeSlots {
  const queues: string[] = [];
  const limits: number[] = [];
  free.queues.forEach((queue, i) => {
    if (keep(queue)) {
      queues.push(queue);
      limits.push(free.limits[i]!);
    }
  });
  // No more than the kept queues can take, so a claim of a few queues reserves no more room than that.
  const room = limits.reduce((sum, limit) => sum + limit, 0);
  return { ...free, queues, limits, total: Math.min(free.total, room) };
}

function anyQueueFull(jobs: Job[], free: FreeSlots): boolean {
  const counts = new Map<string, number>();
  for (const job of jobs) counts.set(job.queue, (counts.get(job.queue) ?? 0) + 1);
  return free.queues.some((queue, i) => (counts.get(queue) ?? 0) >= free.limits[i]!);
}
