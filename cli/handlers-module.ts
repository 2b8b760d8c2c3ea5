import { existsSync } from "node:fs";
import { extname, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Handler, QueueOptions } from "../runtime/index.js";
import { isValidQueueName } from "../runtime/config/identifiers.js";
import { CliError } from "./errors.js";

/** What `new Sidetrack({ queues })` takes for one queue. */
export type QueueConfig = QueueOptions<unknown> & { handler: Handler<unknown> };

const SHAPE_FIX =
  "export a map of queue name to handler: `export default { sendInvoice: async (job) => … }` " +
  "or `export const handlers = { … }` (a value may also be `{ handler, ...queueOptions }`)";

/**
 * Imports the user's handlers module and reads its queue → handler map. The module is
 * imported by this process as is: compiled JavaScript works everywhere, TypeScript works when
 * the CLI runs under the user's own loader (e.g. `node --import tsx …`); the production
 * worker never loads a compiler itself.
 */
export async function loadHandlers(spec: string): Promise<Record<string, QueueConfig>> {
  const path = resolve(process.cwd(), spec);
  if (!existsSync(path)) {
    throw new CliError(`handlers module not found: ${path}`, "pass the path of your handlers module, e.g. --handlers ./dist/handlers.js");
  }
  const mod = await importModule(path, spec, "handlers module", "--handlers");
  const map = pickHandlerMap(mod);
  if (!map) throw new CliError(`${spec} exports no handlers`, SHAPE_FIX);
  const queues: Record<string, QueueConfig> = {};
  for (const [name, value] of Object.entries(map)) {
    if (!isValidQueueName(name)) throw new CliError(`${spec}: ${JSON.stringify(name)} is not a valid queue name`, "queue names are letters, digits and _, starting with a letter");
    if (typeof value === "function") queues[name] = { handler: value as Handler<unknown> };
    else if (isPlainObject(value) && typeof value.handler === "function") queues[name] = value as unknown as QueueConfig;
    else throw new CliError(`${spec}: the handler for queue "${name}" is not a function`, SHAPE_FIX);
  }
  if (Object.keys(queues).length === 0) throw new CliError(`${spec} exports an empty handlers map`, SHAPE_FIX);
  return queues;
}

/** What the worker takes from the generated client: the declared queues' options and the schema. */
export interface Declaration {
  schema: string;
  queues: Record<string, QueueOptions<unknown>>;
}

/** Where `sidetrack generate` writes the client by default, relative to the working directory. */
const DEFAULT_CLIENTS = ["sidetrack/client.js", "sidetrack/client.ts"];

/**
 * Loads the generated client named by --client, or found at its default place
 * (`./sidetrack/client.js` or `.ts`); undefined when there is none. Only its data is read
 * (`declaredQueues`, `schema`): the worker runs with the declaration's options, not a copy.
 */
export async function loadDeclaration(spec: string | undefined): Promise<{ declaration: Declaration; spec: string } | undefined> {
  if (spec === undefined) {
    const found = DEFAULT_CLIENTS.find((candidate) => existsSync(resolve(process.cwd(), candidate)));
    if (found === undefined) return undefined;
    spec = `./${found}`;
  }
  const path = resolve(process.cwd(), spec);
  if (!existsSync(path)) {
    throw new CliError(`generated client not found: ${path}`, "pass the client `sidetrack generate` wrote, e.g. --client ./src/sidetrack/client.js");
  }
  const mod = await importModule(path, spec, "generated client", "--client");
  const queues = mod.declaredQueues;
  if (!isPlainObject(queues) || typeof mod.schema !== "string") {
    throw new CliError(`${spec} is not a generated client of this Sidetrack version (no declaredQueues)`, "regenerate it: npx sidetrack generate");
  }
  return { declaration: { schema: mod.schema, queues: queues as Record<string, QueueOptions<unknown>> }, spec };
}

async function importModule(path: string, spec: string, what: string, flag: string): Promise<Record<string, unknown>> {
  try {
    return (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    if (e.code === "ERR_UNKNOWN_FILE_EXTENSION" && /^\.[cm]?tsx?$/.test(extname(path))) {
      throw new CliError(
        `cannot load ${spec}: this Node.js does not run TypeScript by itself`,
        `compile it to JavaScript, or run the CLI under your loader: node --import tsx node_modules/.bin/sidetrack worker ${flag} ${spec}`,
      );
    }
    throw new CliError(`cannot load ${what} ${spec}: ${e.message?.split("\n")[0] ?? String(error)}`, `run \`node ${spec}\` to see the full error`);
  }
}

/** `export const handlers`, else the default export (or its `handlers`, as CommonJS modules give it). */
function pickHandlerMap(mod: Record<string, unknown>): Record<string, unknown> | undefined {
  if (isPlainObject(mod.handlers)) return mod.handlers;
  const fallback = mod.default;
  if (!isPlainObject(fallback)) return undefined;
  return isPlainObject(fallback.handlers) ? fallback.handlers : fallback;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
