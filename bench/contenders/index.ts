import type { Contender } from "../contender.js";
import { bullmq } from "./bullmq.js";
import { bullmqPostgres } from "./bullmq-postgres.js";
import { floor } from "./floor.js";
import { graphile } from "./graphile.js";
import { pgboss } from "./pgboss.js";
import { sidetrack, sidetrackBesideLimited } from "./sidetrack.js";
import { sidetrackOtel } from "./sidetrack-otel.js";

export const contenders: Record<string, Contender> = {
  sidetrack,
  // Every attempt traced and metered by a recording OpenTelemetry SDK (docs/observability.md).
  "sidetrack (OTel SDK recording)": sidetrackOtel,
  // The same burn-down while the workers also claim a queue with a global concurrency and a rate limit.
  "sidetrack (beside a limited queue)": sidetrackBesideLimited,
  "graphile-worker": graphile,
  "pg-boss": pgboss,
  "bullmq (Redis)": bullmq,
  "bullmq (PostgreSQL)": bullmqPostgres,
  // The floor at equal claim size: claims of the shape's concurrency, as a worker without lock-ahead.
  floor: floor("floor", "slots"),
  // The floor at graphile-worker's lock-ahead (claims of 500).
  "floor (claims of 500)": floor("floor (claims of 500)", 500),
};
