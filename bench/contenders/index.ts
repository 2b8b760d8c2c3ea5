import type { Contender } from "../contender.js";
import { bullmq } from "./bullmq.js";
import { floor } from "./floor.js";
import { graphile } from "./graphile.js";
import { pgboss } from "./pgboss.js";
import { sidetrack, sidetrackBesideLimited } from "./sidetrack.js";

export const contenders: Record<string, Contender> = {
  sidetrack,
  // Holding as many jobs per process as graphile-worker's local queue does (500), by concurrency.
  "sidetrack (concurrency 500)": { ...sidetrack, name: "sidetrack (concurrency 500)", concurrency: 500, burnDownOnly: true },
  // The same burn-down while the workers also claim a queue with a global concurrency and a rate limit.
  "sidetrack (beside a limited queue)": sidetrackBesideLimited,
  "graphile-worker": graphile,
  "pg-boss": pgboss,
  "bullmq (Redis)": bullmq,
  "floor (bare SQL, batch 500)": floor("floor (bare SQL, batch 500)", 500),
  "floor (bare SQL, batch = concurrency)": floor("floor (bare SQL, batch = concurrency)", "slots"),
};
