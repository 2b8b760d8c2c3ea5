// The process's job metrics as Prometheus text (exposition format 0.0.4), from the registry the
// OpenTelemetry instruments are fed alongside: the same numbers, no dependency.
import type { IncomingMessage, ServerResponse } from "node:http";
import { gauges, HISTOGRAM_INSTRUMENTS, oldestReadyAges } from "./metrics.js";
import { COUNTERS, registry, SECONDS_BUCKETS, type HistogramName } from "./registry.js";

export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** The Prometheus name of each OpenTelemetry histogram (dots to underscores, unit suffixed). */
const HISTOGRAM_NAMES: Record<HistogramName, string> = {
  duration: "sidetrack_job_duration_seconds",
  lag: "sidetrack_job_lag_seconds",
};

/** Renders every Sidetrack metric of this process; awaits the gauges' first poll, if one is due. */
export async function prometheusText(): Promise<string> {
  await gauges.want();
  const out: string[] = [];
  for (const counter of COUNTERS) {
    const name = `sidetrack_jobs_${counter}_total`;
    out.push(`# HELP ${name} Jobs ${counter}.`, `# TYPE ${name} counter`);
    for (const [queue, value] of registry.counters.get(counter)!) out.push(`${name}{queue=${label(queue)}} ${value}`);
  }
  for (const [histogram, name] of Object.entries(HISTOGRAM_NAMES) as [HistogramName, string][]) {
    out.push(`# HELP ${name} ${HISTOGRAM_INSTRUMENTS[histogram].description}.`, `# TYPE ${name} histogram`);
    for (const [queue, data] of registry.histograms.get(histogram)!) {
      let cumulative = 0;
      SECONDS_BUCKETS.forEach((bound, i) => {
        cumulative += data.buckets[i]!;
        out.push(`${name}_bucket{queue=${label(queue)},le="${bound}"} ${cumulative}`);
      });
      out.push(`${name}_bucket{queue=${label(queue)},le="+Inf"} ${data.count}`);
      out.push(`${name}_sum{queue=${label(queue)}} ${data.sum}`, `${name}_count{queue=${label(queue)}} ${data.count}`);
    }
  }
  out.push("# HELP sidetrack_jobs Unfinished jobs per queue and state.", "# TYPE sidetrack_jobs gauge");
  for (const row of registry.gaugeRows()) out.push(`sidetrack_jobs{queue=${label(row.queue)},state=${label(row.state)}} ${row.count}`);
  out.push(
    "# HELP sidetrack_queue_oldest_ready_age_seconds Age of the oldest job a worker may claim now.",
    "# TYPE sidetrack_queue_oldest_ready_age_seconds gauge",
  );
  for (const [queue, age] of oldestReadyAges()) out.push(`sidetrack_queue_oldest_ready_age_seconds{queue=${label(queue)}} ${age}`);
  return `${out.join("\n")}\n`;
}

/**
 * A request handler for any Node HTTP server (node:http, Express, Fastify's raw handler…) that
 * answers with the Prometheus text of this process's Sidetrack metrics:
 * `http.createServer(metricsHandler())` or `app.get("/metrics", metricsHandler())`.
 */
export function metricsHandler(): (request: IncomingMessage, response: ServerResponse) => void {
  return (_request, response) => {
    prometheusText().then(
      (text) => {
        response.writeHead(200, { "content-type": PROMETHEUS_CONTENT_TYPE });
        response.end(text);
      },
      (error: unknown) => {
        response.writeHead(500, { "content-type": "text/plain" });
        response.end(`sidetrack metrics failed: ${(error as Error)?.message ?? String(error)}\n`);
      },
    );
  };
}

/** A label value, escaped as the exposition format requires. */
function label(value: string): string {
  return `"${value.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll('"', '\\"')}"`;
}
