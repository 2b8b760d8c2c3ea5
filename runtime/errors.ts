/**
 * Every error Sidetrack throws on purpose is a SidetrackError, so callers can tell
 * "you gave me bad input" apart from a database failure.
 */
export class SidetrackError extends Error {
  override name = "SidetrackError";
}

/** Bad input from the caller: an unknown queue, a payload that is not JSON, a bad date… Nothing was written. */
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

/** The schema in the database does not match what this version of Sidetrack expects. */
export class SidetrackMigrationError extends SidetrackError {
  override name = "SidetrackMigrationError";
}
