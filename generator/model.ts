// What the generator knows about a declaration once it is parsed: plain data, no ts-morph.
import type { PayloadSchema } from "../runtime/insert/validate.js";
import type { CronOptions, QueueOptions } from "../runtime/config/queue-options.js";

export type { PayloadSchema };

export interface QueueModel {
  /** As declared, e.g. `sendInvoice`. */
  name: string;
  /** `SendInvoice`: the suffix of `insertSendInvoice`. */
  pascalName: string;
  /** The payload type as TypeScript text, self-contained (no references to the declaration's types). */
  payloadType: string;
  /** The same type as data, for the runtime validator. */
  payloadSchema: PayloadSchema;
  /** The handler's output type `R` of `queue<P, R>()` as TypeScript text; absent when not declared. */
  outputType?: string;
  /** With `queue({ schema })`: where the generated client imports the schema from. */
  schema?: SchemaSource;
  /** The options literal, checked; values exactly as written (durations stay "2m"). The schema is not among them. */
  options: QueueOptions<unknown> & { cron?: CronOptions<unknown> };
}

/** The module a queue's Standard Schema is imported from. */
export interface SchemaSource {
  /** Absolute path of the user's module; absent when the schema comes from a package. */
  file?: string;
  /** The module specifier as the declaration wrote it (a package's is also what the client imports). */
  specifier: string;
  /** The name the module exports the schema under; "default" for a default export. */
  exportName: string;
}

export interface DeclarationModel {
  /** Absolute path of the declaration. */
  file: string;
  queues: QueueModel[];
  /** Absolute paths of the declaration and every local (non-node_modules) file it imports: what --watch watches. */
  localFiles: string[];
}
