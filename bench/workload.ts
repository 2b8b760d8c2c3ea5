// The shapes of load the bench runs, and the jobs and handlers of each, shared by every
// contender so all queues see the same payloads and the same handler work.

export interface Shape {
  /** As the table shows it: processes x concurrency, payload, handler. */
  name: string;
  processes: number;
  concurrency: number;
  /** Bytes of padding in each payload (0: just `{ i }`). */
  payloadBytes: number;
  /** Time each handler waits (0: a no-op handler). */
  handlerMs: number;
}

export const SHAPES: Shape[] = [
  { name: "1x10 small", processes: 1, concurrency: 10, payloadBytes: 0, handlerMs: 0 },
  { name: "1x24 1 KB", processes: 1, concurrency: 24, payloadBytes: 1024, handlerMs: 0 },
  { name: "1x100 small", processes: 1, concurrency: 100, payloadBytes: 0, handlerMs: 0 },
  { name: "4x50 small", processes: 4, concurrency: 50, payloadBytes: 0, handlerMs: 0 },
  { name: "4x50 10 KB", processes: 4, concurrency: 50, payloadBytes: 10_240, handlerMs: 0 },
  { name: "4x50 slow (5 ms)", processes: 4, concurrency: 50, payloadBytes: 0, handlerMs: 5 },
];

/** The shape whose side figures (CPU, WAL, memory, latency) the second table shows. */
export const HEADLINE = "4x50 small";

export interface JobPayload {
  i: number;
  pad?: string;
}

/** Job `i`'s payload: `{ i }`, padded with `bytes` characters when asked. */
export function jobPayload(i: number, bytes: number): JobPayload {
  return bytes > 0 ? { i, pad: "x".repeat(bytes) } : { i };
}

/**
 * A handler body: reports the job, then waits `handlerMs` when the shape asks for it. A no-op
 * handler stays synchronous, as a no-op handler in an application would be.
 */
export function handle(onJob: (i: number) => void, i: number, handlerMs: number): void | Promise<void> {
  onJob(i);
  if (handlerMs > 0) return new Promise((resolve) => setTimeout(resolve, handlerMs));
}
