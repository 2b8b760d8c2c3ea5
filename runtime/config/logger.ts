import type { Logger } from "../types.js";

/** The default: silent except for errors, which go to stderr. */
export const defaultLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: () => undefined,
  error: (message, meta) => console.error(`[sidetrack] ${message}`, ...(meta ? [meta] : [])),
};

/** Everything to the console, for development (`logger: consoleLogger`). */
export const consoleLogger: Logger = {
  debug: (m, meta) => console.debug(`[sidetrack] ${m}`, ...(meta ? [meta] : [])),
  info: (m, meta) => console.info(`[sidetrack] ${m}`, ...(meta ? [meta] : [])),
  warn: (m, meta) => console.warn(`[sidetrack] ${m}`, ...(meta ? [meta] : [])),
  error: (m, meta) => console.error(`[sidetrack] ${m}`, ...(meta ? [meta] : [])),
};

/** A message for a log line or an error record from anything a handler may throw. */
export function describeThrown(thrown: unknown): { message: string; stack?: string } {
  if (thrown instanceof Error) return { message: thrown.message || thrown.name, stack: thrown.stack };
  if (typeof thrown === "string") return { message: thrown };
  if (thrown === undefined) return { message: "handler threw undefined" };
  try {
    return { message: `handler threw a non-Error value: ${JSON.stringify(thrown) ?? String(thrown)}` };
  } catch {
    return { message: `handler threw a non-Error value: ${Object.prototype.toString.call(thrown)}` };
  }
}
