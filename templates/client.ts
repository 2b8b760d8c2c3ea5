// The shape of `<out>/client.ts`: the typed layer over the runtime that applications import.
// Everything queue-specific (payload types, options, validators) is baked in as literals, so the
// file imports only "sidetrack" and "sidetrack/generated" — never the declaration, never a compiler.
// The one exception: a queue declared with a Standard Schema imports that schema from the module
// that exports it.
import type { PayloadSchema } from "../runtime/insert/validate.js";
import { header } from "./header.js";

export interface ClientQueue {
  name: string;
  pascalName: string;
  /** Self-contained TypeScript text of the payload type. */
  payloadType: string;
  payloadSchema: PayloadSchema;
  /** Self-contained TypeScript text of the output type `R` of `queue<P, R>()`, when declared. */
  outputType?: string;
  /** The declaration's options, as plain data. */
  options: Record<string, unknown>;
  /** With `queue({ schema })`: the import that brings the schema into the client. */
  schema?: { specifier: string; exportName: string };
}

export interface ClientTemplateInput {
  /** The declaration's path relative to the generated file. */
  source: string;
  /** Schema holding Sidetrack's tables. */
  schema: string;
  queues: ClientQueue[];
}

export function renderClient({ source, schema, queues }: ClientTemplateInput): string {
  const names = queues.map((q) => q.name);
  const schemaQueues = queues.filter((q) => q.schema);
  // Inserts take a schema's input type and handlers get its output; without schemas both are Payloads.
  const inputs = schemaQueues.length > 0 ? "PayloadInputs" : "Payloads";
  return `${header(source)}
/* eslint-disable */
import {
  Sidetrack,
  SidetrackValidationError,
  type AnyDbClient,
  type DatabaseOptions,
  type Handler,
  type InsertOptions,
  type InsertedJob,
  type Job,
  type WorkerOptions,
} from "sidetrack";
import {
  insertGenerated,
  readJob,${schemaQueues.length > 0 ? "\n  insertWithSchema,\n  parseWithSchemaSync," : ""}
  requireHandlers,
  runTransaction,
  toInsertItems,
  validatePayload,
  type GeneratedQueue,
  type InsertItem,
  type PgPool,
  type PgPoolClient,${schemaQueues.length > 0 ? "\n  type StandardSchemaV1," : ""}
} from "sidetrack/generated";
${renderSchemaImports(schemaQueues)}
/** The PostgreSQL schema holding Sidetrack's tables. */
export const schema = ${JSON.stringify(schema)};

/** Each queue's payload type, as declared. */
export type Payloads = {
${queues.map((q) => `  ${q.name}: ${q.schema ? `StandardSchemaV1.InferOutput<typeof ${schemaLocal(q)}>` : q.payloadType};`).join("\n")}
};
${
  schemaQueues.length === 0
    ? ""
    : `
/** What each queue's inserts take: a schema's input type (its output is what is stored), else the payload type. */
export type PayloadInputs = {
${queues.map((q) => `  ${q.name}: ${q.schema ? `StandardSchemaV1.InferInput<typeof ${schemaLocal(q)}>` : `Payloads[${JSON.stringify(q.name)}]`};`).join("\n")}
};
`
}
export type QueueName = keyof Payloads;

/** Each queue's output type (what its handler resolves, stored as the job's output): \`R\` of \`queue<P, R>()\`, else unknown. */
export type Outputs = {
${queues.map((q) => `  ${q.name}: ${q.outputType ?? "unknown"};`).join("\n")}
};

export const queueNames: readonly QueueName[] = ${JSON.stringify(names)};

/** A job of queue \`K\`, as a handler receives it and getJob reads it (\`output\` typed by the declaration). */
export type JobOf<K extends QueueName> = Job<Payloads[K], K, Outputs[K]>;

/** What an insert of queue \`K\` returns: the job, with \`duplicate: true\` when its unique key matched a live job. */
export type InsertedJobOf<K extends QueueName> = InsertedJob<Payloads[K], K>;

/** What insertMany takes: payloads sharing the queue's defaults, or \`{ payload, options }\` items. */
export type InsertManyInput = {
${queues.map((q) => `  ${q.name}: ${manyInputType(q)};`).join("\n")}
};

/** Options from the declaration and the payload schema each insert is validated against. */
const queues: { [K in QueueName]: GeneratedQueue<Payloads[K]> } = {
${queues.map(renderQueueConstant).join("\n")}
};

/**
 * Each queue's options as declared, cron schedules included: what \`sidetrack worker --client\`
 * reads, so a worker started from the CLI runs with the same options as createWorker.
 */
export const declaredQueues: { readonly [K in QueueName]: GeneratedQueue<Payloads[K]>["options"] } = {
${queues.map((q) => `  ${q.name}: queues.${q.name}.options,`).join("\n")}
};

/**
 * Checks \`payload\` against the payload type of \`queue\`; throws SidetrackValidationError naming
 * the queue and the property when it does not fit. Every insert below runs this first.
 */
${
  schemaQueues.length === 0
    ? `export function validate<K extends QueueName>(queue: K, payload: unknown): asserts payload is Payloads[K] {
  validatePayload(queues[queue].payload, payload, queue);
}`
    : `export function validate<K extends QueueName>(queue: K, payload: unknown): asserts payload is PayloadInputs[K] {
  const standard = standardSchemas[queue];
  if (standard) parseWithSchemaSync(standard, payload, queue);
  else validatePayload(queues[queue].payload, payload, queue);
}

/** The Standard Schemas that validate (and parse) inserts of the queues declared with one. */
const standardSchemas: { readonly [K in QueueName]?: StandardSchemaV1 } = {
${schemaQueues.map((q) => `  ${q.name}: ${schemaLocal(q)},`).join("\n")}
};`
}
${queues.map(renderInsertFunctions).join("")}
/** Every queue's inserts bound to one client, e.g. the \`tx\` of a Prisma transaction. */
export type Jobs = {
  [K in QueueName]: {
    insert(payload: ${inputs}[K], options?: InsertOptions): Promise<InsertedJobOf<K>>;
    insertMany(items: InsertManyInput[K]): Promise<InsertedJobOf<K>[]>;
  };
};

/** \`jobs(tx).sendInvoice.insert(payload)\`: inserts on \`db\`, inside its transaction if it is in one. */
export function jobs(db: AnyDbClient): Jobs {
  return {
${queues
  .map(
    (q) =>
      `    ${q.name}: {\n      insert: (payload, options) => insert${q.pascalName}(db, payload, options),\n      insertMany: (items) => insertMany${q.pascalName}(db, items),\n    },`,
  )
  .join("\n")}
  };
}

/**
 * Runs \`fn\` in a transaction on a client of \`pool\`: BEGIN, then COMMIT when \`fn\` resolves or
 * ROLLBACK when it throws. Jobs inserted through \`jobs\` are committed or rolled back with your data.
 */
export function transaction<T>(pool: PgPool, fn: (client: PgPoolClient, jobs: Jobs) => Promise<T>): Promise<T> {
  return runTransaction(pool, jobs, fn);
}

/**
 * The job of queue \`queue\` with this id, its payload and output typed; undefined when there is no
 * such job or it belongs to another queue.
 */
export async function getJob<K extends QueueName>(db: AnyDbClient, queue: K, id: string): Promise<JobOf<K> | undefined> {
  const job = await readJob(db, id, { schema });
  return job?.queue === queue ? (job as JobOf<K>) : undefined;
}

/** One handler per queue: a missing one, or one for an unknown queue, does not compile; each resolves its queue's output type. */
export type Handlers = { [K in QueueName]: Handler<Payloads[K], K, Outputs[K]> };

export interface CreateWorkerOptions extends WorkerOptions {
  /** A PostgreSQL connection string; or pass \`pool\`. */
  connectionString?: string | undefined;
  /** A pool you own; it stays open on stop(). */
  pool?: PgPool | undefined;
  handlers: Handlers;
  /** Largest payload accepted, in bytes of JSON. Default 1 MiB. */
  maxPayloadBytes?: number | undefined;
  /** Whether start() applies pending migrations (default true); false only checks and names what is missing. */
  migrate?: boolean | undefined;
}

/**
 * A Sidetrack instance that runs these queues with these handlers and the declaration's options:
 * \`await createWorker({ connectionString, handlers }).start()\`.
 */
export function createWorker(options: CreateWorkerOptions): Sidetrack<Payloads> {
  const { connectionString, pool, handlers, maxPayloadBytes, migrate, ...workerOptions } = options;
  // Said here, in the terms of this call, rather than by the Sidetrack instance at start().
  if (!pool && !connectionString) throw new SidetrackValidationError("createWorker: connectionString or pool is required");
  requireHandlers(queueNames, handlers);
  const databaseOptions: DatabaseOptions = {};
  if (pool) databaseOptions.pool = pool;
  if (connectionString !== undefined) databaseOptions.connectionString = connectionString;
  return new Sidetrack<Payloads>({
    ...workerOptions,
    ...(maxPayloadBytes === undefined ? {} : { maxPayloadBytes }),
    ...(migrate === undefined ? {} : { migrate }),
    databaseOptions,
    schema,
    queues: {
${queues.map((q) => `      ${q.name}: { ...queues.${q.name}.options, handler: handlers.${q.name} },`).join("\n")}
    },
  });
}
`;
}

/** Bare payloads and `{ payload, options }` items look alike when the payload has a `payload` field. */
export function itemsOnly(queue: ClientQueue): boolean {
  return queue.payloadSchema.type === "object" && Object.hasOwn(queue.payloadSchema.properties, "payload");
}

function manyInputType(q: ClientQueue): string {
  const payload = q.schema ? `PayloadInputs[${JSON.stringify(q.name)}]` : `Payloads[${JSON.stringify(q.name)}]`;
  const items = `readonly InsertItem<${payload}>[]`;
  return itemsOnly(q) ? items : `readonly ${payload}[] | ${items}`;
}

function renderQueueConstant(q: ClientQueue): string {
  return [
    `  ${q.name}: {`,
    `    name: ${JSON.stringify(q.name)},`,
    `    options: ${JSON.stringify(q.options)},`,
    // A schema queue's payload is checked by its schema; what reaches insertGenerated is its output.
    `    payload: ${JSON.stringify(q.schema ? { type: "json" } : q.payloadSchema)},`,
    `    itemsOnly: ${itemsOnly(q)},`,
    `  },`,
  ].join("\n");
}

function renderInsertFunctions(q: ClientQueue): string {
  const k = JSON.stringify(q.name);
  const options = Object.keys(q.options).length > 0 ? ` Declared with ${JSON.stringify(q.options)}.` : "";
  const input = q.schema ? `PayloadInputs[${k}]` : `Payloads[${k}]`;
  // A schema queue's payloads go through its schema, whose output is what is inserted.
  const insert = q.schema ? "insertWithSchema" : "insertGenerated";
  const through = q.schema ? `, ${schemaLocal(q)}` : "";
  const validated = q.schema ? ` The payload is parsed by ${q.schema.exportName === "default" ? "the default export" : q.schema.exportName} of ${q.schema.specifier}; its output is stored.` : "";
  return `
/**
 * Inserts one ${q.name} job on \`db\` (a Prisma client or transaction client, a pg Client/PoolClient/Pool,
 * or a DbClient), inside its transaction if it is in one.${options}${validated}
 */
export async function insert${q.pascalName}(db: AnyDbClient, payload: ${input}, options?: InsertOptions): Promise<InsertedJobOf<${k}>> {
  const [job] = await ${insert}<Payloads[${k}], ${k}>(db, schema, queues.${q.name}${through}, [{ payload, options }]);
  return job!;
}

/** Inserts many ${q.name} jobs in one statement; all are validated before anything is sent. */
export function insertMany${q.pascalName}(db: AnyDbClient, items: InsertManyInput[${k}]): Promise<InsertedJobOf<${k}>[]> {
  return ${insert}<Payloads[${k}], ${k}>(db, schema, queues.${q.name}${through}, toInsertItems(queues.${q.name}, items));
}
`;
}

/** The name a queue's schema is imported under: per queue, so it cannot clash with the user's names or ours. */
function schemaLocal(q: ClientQueue): string {
  return `${q.pascalName}Schema`;
}

/** One import per module, modules and names sorted, so the output does not depend on declaration order. */
function renderSchemaImports(queues: ClientQueue[]): string {
  if (queues.length === 0) return "";
  const byModule = new Map<string, string[]>();
  for (const q of queues) {
    const { specifier, exportName } = q.schema!;
    byModule.set(specifier, [...(byModule.get(specifier) ?? []), `${exportName} as ${schemaLocal(q)}`]);
  }
  const lines = [...byModule.keys()].sort().map((specifier) => `import { ${byModule.get(specifier)!.sort().join(", ")} } from ${JSON.stringify(specifier)};`);
  return `// Payload schemas, imported from where they are exported (validation runs them at insert time).\n${lines.join("\n")}\n`;
}
