// What every queue in the benchmark implements, so each measurement runs the same way for all.
import type { JobPayload } from "./workload.js";
export interface Contender {
  name: string;
  /** This contender's own burn-down concurrency per process, instead of the run's (a variant row). */
  concurrency?: number;
  /** Only the burn-down is measured (variant rows, the floors). */
  burnDownOnly?: boolean;
  /** Drops and recreates the contender's tables (or flushes Redis). */
  reset(url: string): Promise<void>;
  /** Inserts `n` jobs, job i with `payload(i)`, in as few calls as the library allows. */
  bulkInsert(url: string, n: number, payload: (i: number) => JobPayload): Promise<void>;
  /** Inserts one job whose payload carries `i`; resolves after commit. */
  insertOne?(i: number): Promise<void>;
  /**
   * Starts a worker whose handler calls `onJob(payload.i)` and then waits `handlerMs` (through
   * `handle` in workload.ts); resolves to a stop function.
   */
  startWorker(url: string, concurrency: number, onJob: (i: number) => void, handlerMs: number): Promise<() => Promise<void>>;
  /** Jobs not finished yet. */
  remaining(url: string): Promise<number>;
  /** Opens what insertOne needs (latency run), closes it afterwards. */
  openInserter?(url: string): Promise<void>;
  closeInserter?(): Promise<void>;
}
