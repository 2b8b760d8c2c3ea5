// Every error class Sidetrack throws or hands to user code, in one place. All extend
// SidetrackError, so `error instanceof SidetrackError` tells Sidetrack's own errors from a
// driver's or a handler's; each subclass is exported so callers can match the case they handle.

/** The base of every error Sidetrack raises on purpose. */
export class SidetrackError extends Error {
  override name = "SidetrackError";
}

/**
 * Bad input from the caller: an unknown queue, a payload that is not JSON, a bad option… The
 * message names the queue and the property; nothing was written.
 */
export class SidetrackValidationError extends SidetrackError {
  override name = "SidetrackValidationError";
  constructor(
    message: string,
    /** The queue the input was meant for, when there is one. */
    readonly queue?: string,
    /** The path of the offending property, e.g. `payload.items[2].sku` or `options.delay`. */
    readonly path?: string,
  ) {
    super(message);
  }
}

/**
 * PostgreSQL could not be reached (refused, unknown host, timed out, connection lost) or
 * refused the connection (authentication, no such database). Names host and port, never the
 * password; the driver's error is `cause`.
 */
export class SidetrackConnectionError extends SidetrackError {
  override name = "SidetrackConnectionError";
  constructor(
    message: string,
    readonly host: string,
    readonly port: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The schema in the database does not match what this version of Sidetrack expects. */
export class SidetrackMigrationError extends SidetrackError {
  override name = "SidetrackMigrationError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * A retry collided with a live job's unique key that appeared while it ran (an insert
 * committed concurrently). Nothing of that batch changed; running the retry again skips it.
 */
export class SidetrackUniqueConflictError extends SidetrackError {
  override name = "SidetrackUniqueConflictError";
}

/**
 * The attempt ran past its queue's `timeout`: the handler's `signal.reason`, and the error the
 * failed attempt records (`job:retrying` / `job:failed` receive it).
 */
export class JobTimeoutError extends SidetrackError {
  override name = "JobTimeoutError";
}

/** Why a running job's handler was aborted. */
export type AbortReason = "timeout" | "cancelled" | "lease-lost" | "shutdown";

/**
 * The handler's `signal.reason` when its job was cancelled, its worker lost the job's lease, or
 * the worker shut down past its grace period. `reason` says which.
 */
export class JobAbortedError extends SidetrackError {
  override name = "JobAbortedError";
  constructor(readonly reason: AbortReason) {
    super(`job aborted: ${reason}`);
  }
}

/**
 * Thrown by a handler to end its job `failed` at once, whatever attempts remain: the work can
 * never succeed (the record it needs was deleted, the input is invalid). The message is recorded
 * in `job.errors` like any other failed attempt's.
 */
export class UnrecoverableError extends SidetrackError {
  override name = "UnrecoverableError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/**
 * A handler's resolved value could not be stored as the job's `output`: it is not JSON-safe, or
 * larger than the queue's `maxOutputBytes`. The attempt fails with this error (retried as usual).
 */
export class JobOutputError extends SidetrackError {
  override name = "JobOutputError";
  constructor(
    message: string,
    readonly queue: string,
  ) {
    super(message);
  }
}
