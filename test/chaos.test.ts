// The short chaos run (scripts/chaos.ts) as part of the suite: a few thousand jobs over three
// worker processes while workers are SIGKILLed, their connections terminated and PostgreSQL
// restarted once; then the same behind a real PgBouncer in transaction mode, which is also
// restarted (immediately, then safely). Each runs on an embedded PostgreSQL of its own (never the
// shared server: the other test files use it in parallel), and its checks must all pass.
import { describe, expect, it } from "vitest";
import { explainDuplicate, formatResult, QUICK, runChaos, type ChaosOptions, type Fault } from "../scripts/chaos.js";
import { findPgBouncer } from "../scripts/pgbouncer.js";

const pgbouncer = findPgBouncer();
// CI installs pgbouncer (.ci/run): there a missing binary is a failure, never a skip.
if (!pgbouncer && process.env.CI) throw new Error("pgbouncer is not installed but CI is set: .ci/run must install it (apt-get install pgbouncer)");
if (!pgbouncer) console.warn("[skip] pgbouncer not installed: the chaos run behind PgBouncer is skipped (apt-get install pgbouncer)");

async function quickChaos(options: Partial<ChaosOptions>) {
  const lines: string[] = [];
  const result = await runChaos({
    ...QUICK,
    // No databaseUrl: the run starts and restarts an embedded server of its own.
    databaseUrl: undefined,
    killEveryMs: 1_500,
    terminateEveryMs: 1_000,
    drainTimeoutMs: 180_000,
    log: (line) => lines.push(line),
    ...options,
  });
  const report = formatResult(result);
  console.log(report);
  for (const check of result.checks) expect(check, report).toMatchObject({ ok: true });
  expect(result.ok).toBe(true);
  const f = result.figures;
  expect(f.lostJobs).toBe(0);
  expect(f.committedJobs).toBe(QUICK.jobs);
  expect(f.duplicateRunsExplained).toBe(f.duplicateRuns);
  // The faults really happened.
  expect(f.kills).toBeGreaterThan(0);
  expect(f.postgresRestarts).toBe(1);
  expect(f.connectionKills).toBeGreaterThan(0);
  expect(f.freezes).toBeGreaterThan(0);
  expect(f.rolledBackJobs).toBeGreaterThan(0);
  return result;
}

describe("chaos run (short)", () => {
  it("loses nothing, runs nothing rolled back, and explains every duplicate run", { timeout: 300_000 }, async () => {
    const { figures } = await quickChaos({});
    expect(figures.pgbouncer).toBeUndefined();
  });

  it.skipIf(!pgbouncer)("behind PgBouncer, restarted twice mid-run, the same holds and the workers claim again", { timeout: 300_000 }, async () => {
    const { figures } = await quickChaos({ pgbouncer: true });
    expect(figures.pgbouncer?.restarts.map((r) => r.mode)).toEqual(["immediate", "safe"]);
    for (const round of figures.pgbouncer!.restarts) expect(round.firstRunAfterMs).not.toBeNaN();
  });

  it("explains a duplicate run only by a cut-short attempt", () => {
    const run = { attempt: 1, worker: "chaos-w1-g1", run_at: new Date(1_000_000) };
    const none = new Map<string, Fault>();
    // Nothing happened to that run: a second run is a bug, and the check must say so.
    expect(explainDuplicate(run, { errors: [] }, none, [], 2_000)).toBeUndefined();
    // An error entry for another attempt explains nothing.
    expect(explainDuplicate(run, { errors: [{ attempt: 2, message: "worker x lost its lease" }] }, none, [], 2_000)).toBeUndefined();
    // A terminate of another worker's connections explains nothing either.
    const otherTerminated: Fault[] = [{ kind: "terminate", worker: "chaos-w2-g1", at: 1_000_500, until: 1_000_600 }];
    expect(explainDuplicate(run, { errors: [] }, none, otherTerminated, 2_000)).toBeUndefined();
    // These do.
    expect(explainDuplicate(run, { errors: [{ attempt: 1, message: "worker chaos-w1-g1 lost its lease (crashed…)" }] }, none, [], 2_000)).toMatch(/lost lease/);
    const killed = new Map<string, Fault>([["chaos-w1-g1", { kind: "kill", worker: "chaos-w1-g1", at: 1_001_000, until: 1_001_010 }]]);
    expect(explainDuplicate(run, { errors: [] }, killed, [], 2_000)).toMatch(/SIGKILL/);
    expect(explainDuplicate(run, { errors: [{ attempt: 1, message: "worker chaos-w1-g1 is gone (its database session ended…)" }] }, killed, [], 2_000)).toMatch(/gone.*SIGKILL/);
    const frozenRun: Fault[] = [{ kind: "freeze", worker: "chaos-w1-g1", at: 1_000_100, until: 1_004_000 }];
    expect(explainDuplicate(run, { errors: [{ attempt: 1, message: "worker chaos-w1-g1 lost its lease (crashed…)" }] }, none, frozenRun, 2_000)).toMatch(/frozen/);
    const restarted: Fault[] = [{ kind: "restart", at: 1_000_200, until: 1_001_000 }];
    expect(explainDuplicate(run, { errors: [] }, none, restarted, 2_000)).toMatch(/connection/);
    // A PgBouncer restart cuts every worker's pool: a lost completion or lease, but never the
    // liveness session, which goes straight to the server.
    const bounced: Fault[] = [{ kind: "pgbouncer", at: 1_000_200, until: 1_000_900 }];
    expect(explainDuplicate(run, { errors: [] }, none, bounced, 2_000)).toMatch(/completion lost.*PgBouncer/);
    expect(explainDuplicate(run, { errors: [{ attempt: 1, message: "worker chaos-w1-g1 lost its lease (crashed…)" }] }, none, bounced, 2_000)).toMatch(/lost lease: PgBouncer/);
    expect(explainDuplicate(run, { errors: [{ attempt: 1, message: "worker chaos-w1-g1 is gone (its database session ended…)" }] }, none, bounced, 2_000)).toMatch(/no fault to explain it/);
    // A PgBouncer restart long before the run explains nothing.
    const bouncedEarlier: Fault[] = [{ kind: "pgbouncer", at: 990_000, until: 990_700 }];
    expect(explainDuplicate(run, { errors: [] }, none, bouncedEarlier, 2_000)).toBeUndefined();
  });
});
