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
  /** The options literal, checked; values exactly as written (durations stay "2m"). */
  options: QueueOptions<unknown> & { cron?: CronOptions<unknown> };
}

export interface DeclarationModel {
  /** Absolute path of the declaration. */
  file: string;
  queues: QueueModel[];
  /** Absolute paths of the declaration and every local (non-node_modules) file it imports: what --watch watches. */
  localFiles: string[];
}
