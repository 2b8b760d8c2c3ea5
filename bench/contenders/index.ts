import type { Contender } from "../contender.js";
import { bullmq } from "./bullmq.js";
import { floor } from "./floor.js";
import { graphile } from "./graphile.js";
import { pgboss } from "./pgboss.js";
import { sidetrack } from "./sidetrack.js";

export const contenders: Record<string, Contender> = {
  sidetrack,
  "graphile-worker": graphile,
  "pg-boss": pgboss,
  "bullmq (Redis)": bullmq,
  "floor (bare SQL)": floor,
};
