import { describe, expect, it } from "vitest";
import type { Job } from "../runtime/types.js";
import { JobAbortedError, JobTimeoutError } from "../runtime/errors.js";
import { JobRun } from "../runtime/worker/job-run.js";

// The runner alone (no database): how a handler's outcome and its signal behave now that the
// AbortController is made only when the handler reads `signal`.
const job = { id: "1", queue: "work" } as Job;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("JobRun", () => {
  it("completes a synchronous handler and an async one", async () => {
    await expect(new JobRun(job, () => 42, undefined).start()).resolves.toEqual({ kind: "completed", output: 42 });
    await expect(new JobRun(job, async () => sleep(5), undefined).start()).resolves.toEqual({ kind: "completed" });
  });

  it("fails with what a handler throws, synchronously or not", async () => {
    const boom = new Error("boom");
    await expect(
      new JobRun(job, () => {
        throw boom;
      }, undefined).start(),
    ).resolves.toEqual({ kind: "failed", thrown: boom });
    await expect(new JobRun(job, () => Promise.reject("text"), undefined).start()).resolves.toEqual({ kind: "failed", thrown: "text" });
  });

  it("gives a handler that reads signal only after its timeout an already-aborted signal", async () => {
    let late: AbortSignal | undefined;
    const outcome = await new JobRun(job, async (_job, ctx) => {
      await sleep(60);
      late = ctx.signal;
    }, 20).start();
    expect(outcome.kind).toBe("failed");
    expect((outcome as { thrown: unknown }).thrown).toBeInstanceOf(JobTimeoutError);
    await sleep(60);
    expect(late?.aborted).toBe(true);
    expect(late?.reason).toBeInstanceOf(JobAbortedError);
    expect((late?.reason as JobAbortedError).reason).toBe("timeout");
  });

  it("fires the abort event on a signal the handler holds, and settles without waiting for the handler", async () => {
    let heard: unknown;
    const run = new JobRun(job, (_job, ctx) => {
      ctx.signal.addEventListener("abort", () => (heard = ctx.signal.reason));
      return new Promise(() => undefined); // ignores its signal and never settles
    }, undefined);
    const done = run.start();
    run.abort("cancelled");
    await expect(done).resolves.toEqual({ kind: "aborted", reason: "cancelled" });
    expect((heard as JobAbortedError).reason).toBe("cancelled");
    expect(run.aborted).toBe(true);
  });

  it("ignores an abort after the outcome is settled", async () => {
    let signal: AbortSignal | undefined;
    const run = new JobRun(job, (_job, ctx) => void (signal = ctx.signal), undefined);
    await expect(run.start()).resolves.toEqual({ kind: "completed" });
    run.abort("shutdown");
    expect(run.aborted).toBe(false);
    expect(signal?.aborted).toBe(false);
  });
});
