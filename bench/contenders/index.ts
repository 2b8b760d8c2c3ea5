import type { Contender } from "../contender.js";
import { bullmq } from "./bullmq.js";
import { floor } from "./floor.js";
import { graphile } from "./graphile.js";
import { pgboss } from "./pgboss.js";
import { sidetrack } from "./sidetrack.js";
import { sidetrackOtel } from "./sidetrack-otel.js";

export const contenders: Record<string, Contender> = {
  sidetrack,
  // Holding as many jobs per process as graphile-worker's local queue does (500), by concurrency.
  "sidetrack (concurrency 500)": { ...sidetrack, name: "sidetrack (concurrency 500)", concurrency: 500, burnDownOnly: true },
  // Every attempt traced and metered by a recording OpenTelemetry SDK (docs/observability.md).
  "sidetrack (OTel SDK recording)": sidetrackOtel,
  "graphile-worker": graphile,
  "pg-boss": pgboss,
  "bullmq (Redis)": bullmq,
  "floor (bare SQL, batch 500)": floor("floor (bare SQL, batch 500)", 500),
  "floor (bare SQL, batch = concurrency)": floor("floor (bare SQL, batch = concurrency)", "slots"),
};
