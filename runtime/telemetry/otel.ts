// The OpenTelemetry API, loaded only when the application installed it. `@opentelemetry/api` is
// an optional peer dependency: without it nothing is imported and every hook is one branch on
// `undefined`. With it but no SDK registered, the API hands out no-op tracers and meters, whose
// spans report isRecording() false, and the hooks skip their attribute work.
import type * as OtelApi from "@opentelemetry/api";

export type Otel = typeof OtelApi;

/** The instrumentation scope every span and instrument is created under. */
export const INSTRUMENTATION_NAME = "sidetrack";

let loaded: Otel | undefined;
let loading: Promise<Otel | undefined> | undefined;
let settled = false;

/**
 * Imports `@opentelemetry/api` once per process (a cached promise); resolves undefined when it
 * is not installed. The specifier sits in a variable so bundlers and TypeScript do not insist
 * on the package being present.
 */
export function loadOtel(): Promise<Otel | undefined> {
  if (!loading) {
    const specifier = "@opentelemetry/api";
    loading = (import(specifier) as Promise<Otel & { default?: Otel }>).then(
      (api) => {
        settled = true;
        return (loaded = api.trace ? api : api.default);
      },
      () => {
        settled = true;
        return undefined;
      },
    );
  }
  return loading;
}

/** The API if loadOtel() has finished and found it; undefined otherwise (synchronous, for hot paths). */
export function otel(): Otel | undefined {
  return loaded;
}

/** Whether loadOtel() has finished (either way), so callers need not await it again. */
export function otelSettled(): boolean {
  return settled;
}
