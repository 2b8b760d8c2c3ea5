// `sidetrack/generated`: what the client written by `sidetrack generate` calls at run time.
// Not for hand use: these functions trust that their arguments come from generated code, and
// may change between minor versions together with the generator that calls them.
export { insertGenerated, toInsertItems, runTransaction, requireHandlers } from "./insert/generated-support.js";
export type { GeneratedQueue, InsertItem, PgPool, PgPoolClient } from "./insert/generated-support.js";
export { validatePayload } from "./insert/validate.js";
export type { PayloadSchema } from "./insert/validate.js";
export { toDbClient } from "./db/clients.js";
export { insertWithSchema, parseWithSchema, parseWithSchemaSync } from "./insert/standard-schema.js";
export type { StandardSchemaV1 } from "./types.js";
export { getJob as readJob } from "./client/jobs.js";
