// Payloads described by a Standard Schema (zod 3.24+/4, valibot 1, arktype 2, …): `queue({ schema })`.
// The generated client imports the user's schema and validates every insert with it, so the schema's
// own rules (formats, ranges, refinements, transforms) hold at insert time, and the job stores the
// schema's output. Standard Schema is an interface, not a package: its types are written out here,
// so no schema library is a dependency of Sidetrack.
import type { AnyDbClient } from "../db/clients.js";
import { SidetrackValidationError } from "../errors.js";
import { insertGenerated, type GeneratedQueue, type InsertItem } from "./generated-support.js";
import type { InsertedJob, StandardSchemaV1 } from "../types.js";

/**
 * The schema's output for `value`; throws SidetrackValidationError naming the queue, the first
 * issue's property path and every issue's message. Async schemas are awaited: inserts are async
 * anyway, and an async refinement (say, a lookup) is a legitimate rule.
 */
export async function parseWithSchema(schema: StandardSchemaV1, value: unknown, queue: string): Promise<unknown> {
  return settle(await schema["~standard"].validate(value), queue);
}

/**
 * The same, synchronously, for the generated client's `validate()`; a schema that validates
 * asynchronously cannot answer synchronously and is reported as such.
 */
export function parseWithSchemaSync(schema: StandardSchemaV1, value: unknown, queue: string): unknown {
  const result = schema["~standard"].validate(value);
  if (result instanceof Promise) {
    // Nobody will look at it; keep a rejection from being reported as unhandled.
    result.catch(() => undefined);
    throw new SidetrackValidationError(
      `queue "${queue}": its schema validates asynchronously, so validate() cannot check it; insert${queue[0]!.toUpperCase()}${queue.slice(1)}() awaits it`,
      queue,
    );
  }
  return settle(result, queue);
}

function settle(result: StandardSchemaV1.Result<unknown>, queue: string): unknown {
  if (!result.issues) return result.value;
  const issues = result.issues.map((issue) => ({ path: issuePath(issue), message: issue.message }));
  if (issues.length === 0) throw new SidetrackValidationError(`queue "${queue}": payload was rejected by its schema`, queue, "payload");
  const text = issues.map((issue) => `${issue.path}: ${issue.message}`).join("; ");
  throw new SidetrackValidationError(`queue "${queue}": ${text}`, queue, issues[0]!.path);
}

/** `payload.items[2].sku`, the path format of every other validation error. */
function issuePath(issue: StandardSchemaV1.Issue): string {
  let path = "payload";
  for (const segment of issue.path ?? []) {
    const key = typeof segment === "object" && segment !== null ? segment.key : segment;
    if (typeof key === "number") path += `[${key}]`;
    else if (typeof key === "string" && /^[A-Za-z_$][\w$]*$/.test(key)) path += `.${key}`;
    else path += `[${JSON.stringify(String(key))}]`;
  }
  return path;
}

/**
 * insertGenerated for a schema queue: every item is parsed by the schema (all of them before
 * anything is sent), and the schema's output is what is inserted.
 */
export async function insertWithSchema<Payload, Queue extends string>(
  db: AnyDbClient,
  schema: string,
  queue: GeneratedQueue,
  payloadSchema: StandardSchemaV1,
  items: readonly InsertItem<unknown>[],
): Promise<InsertedJob<Payload, Queue>[]> {
  const parsed: InsertItem<unknown>[] = [];
  for (const { payload, options } of items) parsed.push({ payload: await parseWithSchema(payloadSchema, payload, queue.name), options });
  return insertGenerated<Payload, Queue>(db, schema, queue, parsed);
}
