import type { Job } from "./job.js";
import type { Handler } from "./worker-options.js";

/** Why a running job's signal was aborted. */
export type AbortReason = "timeout" | "cancelled" | "lease-lost" | "shutdown";

export type Outcome =
  | { kind: "completed" }
  | { kind: "failed"; thrown: unknown }
  | { kind: "aborted"; reason: Exclude<AbortReason, "timeout"> };

export class JobTimeoutError extends Error {
  override name = "JobTimeoutError";
}

export class JobAbortedError extends Error {
  override name = "JobAbortedError";
  constructor(readonly reason: AbortReason) {
    super(`job aborted: ${reason}`);
  }
}

/**
 * Runs one handler. The outcome is settled by whichever comes first: the handler settling, or
 * its signal aborting (timeout, cancel, lost lease, shutdown). A handler that ignores its
 * signal keeps running in the background, but its slot is freed and its result ignored.
 */
export async function runHandler(
  job: Job,
  handler: Handler<any>,
  controller: AbortController,
  timeoutMs: number | undefined,
): Promise<Outcome> {
  let timer: NodeJS.Timeout | undefined;
  if (timeoutMs !== undefined) {
    timer = setTimeout(
      () => controller.abort(new JobAbortedError("timeout")),
      timeoutMs,
    );
  }
  const aborted = new Promise<"aborted">((resolve) => {
    if (controller.signal.aborted) resolve("aborted");
    controller.signal.addEventListener("abort", () => resolve("aborted"), { once: true });
  });
  const handled = Promise.resolve()
    .then(() => handler(job, { signal: controller.signal }))
    .then(
      () => ({ kind: "completed" }) as const,
      (thrown: unknown) => ({ kind: "failed", thrown }) as const,
    );
  try {
    const first = await Promise.race([handled, aborted]);
    if (first !== "aborted" && !controller.signal.aborted) return first;
    const reason = (controller.signal.reason as JobAbortedError | undefined)?.reason ?? "cancelled";
    if (reason === "timeout") {
      return { kind: "failed", thrown: new JobTimeoutError(`job timed out after ${timeoutMs}ms (queue "${job.queue}" timeout)`) };
    }
    return { kind: "aborted", reason };
  } finally {
    clearTimeout(timer);
  }
}
