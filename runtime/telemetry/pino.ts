// A Logger for pino (or any logger with pino's `(fields, message)` methods: pino's children,
// bunyan): Sidetrack's structured fields become the line's fields, the text its `msg`.
// pino itself is not imported; the application passes its instance.
import type { Logger } from "../types.js";

/** The part of a pino logger Sidetrack calls. */
export interface PinoLike {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/**
 * `new Sidetrack({ logger: pinoLogger(pino()) })`: every line about a job carries jobId, queue,
 * attempt, workerId and (when tracing) traceId as pino fields.
 */
export function pinoLogger(pino: PinoLike): Logger {
  return {
    debug: (message, fields) => pino.debug(fields ?? {}, message),
    info: (message, fields) => pino.info(fields ?? {}, message),
    warn: (message, fields) => pino.warn(fields ?? {}, message),
    error: (message, fields) => pino.error(fields ?? {}, message),
  };
}
