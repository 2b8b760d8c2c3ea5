// The lock-ahead buffer's own rules, on a clock the test moves: a job whose lease may have lapsed
// is never handed out to start; a renewal extends the deadline; the target follows the observed
// completion rate (a rise at once, a fall gradually) and claim round trip, falls to nothing when
// completions stop, and obeys a fixed size or 0.
import { describe, expect, it } from "vitest";
import { LockAhead } from "../runtime/worker/lock-ahead.js";
import type { Job } from "../runtime/types.js";

const job = (id: string, queue = "q") => ({ id, queue }) as Job;

/** An "auto" buffer (at most `max`) on a clock the test moves, with what the tests do to it. */
function autoBuffer(max = 1_000) {
  const clock = { t: 0 };
  const buffer = new LockAhead({ kind: "auto", max }, 30_000, () => clock.t);
  return {
    buffer,
    clock,
    /** `n` handlers finish now. */
    complete: (n: number) => {
      for (let i = 0; i < n; i++) buffer.completed();
    },
    /** Moves the clock on by `ms` in 100 ms steps without completions, sampling at each. */
    idle: (ms: number) => {
      for (let left = ms; left > 0; left -= 100) {
        clock.t += 100;
        buffer.target();
      }
    },
  };
}

describe("lock-ahead buffer", () => {
  it("never hands out a job once 90% of its lease has passed since the claim was sent, and reports it", () => {
    let t = 0;
    const buffer = new LockAhead({ kind: "fixed", size: 5 }, 1_000, () => t);
    buffer.add([job("1"), job("2")], 0);
    t = 899;
    const lapsed: string[] = [];
    expect(buffer.take(() => true, (j) => lapsed.push(j.id))?.job.id).toBe("1");
    t = 900;
    expect(buffer.take(() => true, (j) => lapsed.push(j.id))).toBeUndefined();
    expect(lapsed).toEqual(["2"]);
    expect(buffer.size).toBe(0);
  });

  it("a renewal extends the deadline of the jobs it kept and drops the others", () => {
    let t = 0;
    const buffer = new LockAhead({ kind: "fixed", size: 5 }, 1_000, () => t);
    buffer.add([job("1"), job("2")], 0);
    t = 800;
    buffer.renewed(new Set(["1"]), 800);
    t = 1_500;
    const taken = buffer.take(() => true, () => undefined);
    expect(taken).toEqual({ job: job("1"), bufferedMs: 1_500 });
    expect(buffer.ids()).toEqual([]);
  });

  it("skips jobs whose queue has no free slot without losing them", () => {
    const buffer = new LockAhead({ kind: "fixed", size: 5 }, 1_000, () => 0);
    buffer.add([job("1", "busy"), job("2", "free")], 0);
    expect(buffer.take((q) => q === "free", () => undefined)?.job.id).toBe("2");
    expect(buffer.bufferedOf("busy")).toBe(1);
  });

  it("sizes itself from completions per second x claim round trip x 3, and shrinks to nothing", () => {
    const { buffer, clock, complete, idle } = autoBuffer();
    expect(buffer.target()).toBe(0); // nothing observed yet
    buffer.claimed(-10); // a 10 ms round trip
    complete(1_000);
    clock.t = 100; // 1,000 completions in 100 ms: 10,000 per second
    expect(buffer.target()).toBe(300); // 10,000/s x 10 ms x 3
    clock.t = 5_000; // no completions for a while (slow handlers): the rate decays to nothing
    idle(3_000);
    expect(buffer.target()).toBe(0);
  });

  it("samples every 20 ms over the last 100 ms, follows a rise at once and a fall by 30% per 100 ms", () => {
    const { buffer, clock, complete, idle } = autoBuffer();
    buffer.claimed(-10); // a 10 ms round trip
    complete(20);
    clock.t = 10;
    expect(buffer.target()).toBe(0); // under 20 ms: not sampled yet
    clock.t = 20; // 20 completions in 20 ms: 1,000 per second
    expect(buffer.target()).toBe(30);
    const targets: number[] = [];
    for (let k = 0; k < 5; k++) {
      complete(200);
      clock.t += 20; // 200 every 20 ms: 10,000 per second, reached once it spans the window
      targets.push(buffer.target());
    }
    expect(targets).toEqual([165, 210, 232, 246, 300]);
    clock.t += 100; // nothing for 100 ms: 30% of the way down
    expect(buffer.target()).toBe(210);
    idle(2_000);
    expect(buffer.target()).toBe(0);
  });

  it("counts handlers that finish together over the window, not as a burst", () => {
    const { buffer, clock, complete } = autoBuffer();
    buffer.claimed(-10);
    for (let k = 0; k < 4; k++) {
      clock.t += 20;
      buffer.target(); // 80 ms without completions
    }
    complete(50); // a claim's slow jobs, all done at once
    clock.t += 20;
    // 50 in the last 100 ms: 500 per second (as 50 in one 20 ms sample, 2,500), x 10 ms x 3.
    expect(buffer.target()).toBe(15);
  });

  it("honours the cap, a fixed size and 0", () => {
    const { buffer: capped, clock, complete } = autoBuffer(50);
    capped.claimed(-10);
    complete(1_000);
    clock.t = 100;
    expect(capped.target()).toBe(50);
    expect(new LockAhead({ kind: "fixed", size: 7 }, 30_000).target()).toBe(7);
    expect(new LockAhead({ kind: "fixed", size: 0 }, 30_000).target()).toBe(0);
  });
});
