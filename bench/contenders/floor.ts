import pg from "pg";
import type { Contender } from "../contender.js";
import { handle } from "../workload.js";
import { count } from "./sidetrack.js";

/**
 * The physical limit: no library, just a batched claim with SKIP LOCKED and a batched
 * completion against a minimal table (two columns, two indexes), two loops per process so one
 * claims while the other completes. `batch` is how many jobs one claim takes:
 * - 500, as many as graphile-worker's local queue holds: the floor the ratios are taken to;
 * - "slots": the worker's concurrency: the floor at the claim size of a worker without lock-ahead.
 * Handlers that take time run at most `concurrency` at once per process, both loops sharing the
 * slots, as in every queue compared with it: the jobs of a claim of 500 wait their turn instead
 * of all waiting out their 5 ms together (which made the slow shape's floor a floor of ten
 * times the concurrency).
 */
export function floor(name: string, batch: number | "slots"): Contender {
  return {
    name,
    burnDownOnly: true,
    async reset(url) {
      const client = new pg.Client(url);
      await client.connect();
      await client.query(`drop schema if exists floor cascade; create schema floor;
        create table floor.jobs (id bigint generated always as identity primary key, status smallint not null default 0, payload jsonb not null);
        create index on floor.jobs (id) where status = 0;`);
      await client.end();
    },
    async bulkInsert(url, n, payload) {
      const client = new pg.Client(url);
      await client.connect();
      const pad = payload(0).pad ?? "";
      await client.query(
        "insert into floor.jobs (payload) select case when $2 = '' then jsonb_build_object('i', g) else jsonb_build_object('i', g, 'pad', $2::text) end from generate_series(0, $1::int - 1) g",
        [n, pad],
      );
      await client.end();
    },
    async startWorker(url, concurrency, onJob, handlerMs) {
      const limit = batch === "slots" ? concurrency : batch;
      const pool = new pg.Pool({ connectionString: url, max: 2 });
      const slot = slots(concurrency);
      let running = true;
      const loop = async () => {
        while (running) {
          const { rows } = await pool.query<{ id: string; payload: { i: number } }>(
            `update floor.jobs set status = 1 where id in (select id from floor.jobs where status = 0 order by id limit $1 for update skip locked) returning id, payload`,
            [limit],
          );
          if (rows.length === 0) {
            await new Promise((r) => setTimeout(r, 20));
            continue;
          }
          if (handlerMs > 0) await Promise.all(rows.map((r) => slot(() => handle(onJob, r.payload.i, handlerMs))));
          else for (const r of rows) onJob(r.payload.i);
          await pool.query("update floor.jobs set status = 2 where id = any($1::bigint[])", [rows.map((r) => r.id)]);
        }
      };
      const loops = [loop(), loop()];
      return async () => {
        running = false;
        await Promise.all(loops);
        await pool.end();
      };
    },
    async remaining(url) {
      return count(url, "select count(*)::int as n from floor.jobs where status <> 2");
    },
  };
}

/** Runs what it is given at most `n` at a time, in the order given. */
function slots(n: number): (run: () => void | Promise<void>) => Promise<void> {
  let free = n;
  const waiting: (() => void)[] = [];
  return async (run) => {
    if (free > 0) free--;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      await run();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else free++;
    }
  };
}
