// The options literal of one `queue<P>({ … })`: every value read statically and checked the way the
// runtime would check it, so a mistake shows up at generate time with its line and column.
import { Node } from "ts-morph";
import {
  BACKOFF_KEYS,
  closest,
  concurrencyPerKeyProblem,
  CRON_KEYS,
  durationProblem,
  integerProblem,
  MAX_INT,
  onDuplicateProblem,
  QUEUE_OPTION_NAMES,
  rateLimitProblem,
  uniqueByProblem,
} from "../runtime/config/queue-rules.js";
import { cronParseProblem, cronShapeProblem, normalizeCronExpression, resolveTimeZone } from "../runtime/cron/expression.js";
import { describeSchema, findPayloadProblem, type PayloadSchema } from "../runtime/insert/validate.js";
import { diagnosticAt, DiagnosticError, type Diagnostic } from "./diagnostics.js";
import { propertyName, readLiteral, unwrapExpression, type Literal } from "./literal.js";
import type { QueueModel } from "./model.js";

type Options = QueueModel["options"];

const OPTION_NAMES = QUEUE_OPTION_NAMES;

/** Reads and checks `optionsNode` (the argument of `queue<P>(…)`); problems go to `diagnostics`. */
export function readQueueOptions(
  queue: string,
  optionsNode: Node | undefined,
  /** Undefined when the payload type itself is broken: then options that refer to it are not checked. */
  payload: PayloadSchema | undefined,
  diagnostics: Diagnostic[],
): Options {
  const options: Options = {};
  if (!optionsNode) return options;
  const literal = unwrapExpression(optionsNode);
  if (!Node.isObjectLiteralExpression(literal)) {
    diagnostics.push(
      diagnosticAt(optionsNode, `the options of queue "${queue}" must be an object literal`, `write them inline: queue<P>({ maxAttempts: 5 })`),
    );
    return options;
  }
  for (const property of literal.getProperties()) {
    try {
      readOption(queue, property, payload, options);
    } catch (error) {
      if (error instanceof DiagnosticError) diagnostics.push(error.diagnostic);
      else throw error;
    }
  }
  return options;
}

function readOption(queue: string, property: Node, payload: PayloadSchema | undefined, options: Options): void {
  if (!Node.isPropertyAssignment(property)) {
    throw new DiagnosticError(
      diagnosticAt(property, `option of queue "${queue}" must be written as \`name: value\``, "spell the option out, e.g. maxAttempts: 5, instead of a spread, shorthand or method"),
    );
  }
  const nameNode = property.getNameNode();
  const name = propertyName(nameNode);
  if (name === undefined || !(OPTION_NAMES as readonly string[]).includes(name)) {
    const shown = name ?? nameNode.getText();
    const suggestion = name ? closest(name, OPTION_NAMES) : undefined;
    throw new DiagnosticError(
      diagnosticAt(
        nameNode,
        `unknown option "${shown}" of queue "${queue}"`,
        `${suggestion ? `did you mean ${suggestion}? ` : ""}known options: ${OPTION_NAMES.join(", ")}`,
      ),
    );
  }
  // Not a literal: parse.ts resolves it to the module that exports it (schema-payload.ts).
  if (name === "schema") return;
  const valueNode = property.getInitializerOrThrow();
  const what = `option ${name} of queue "${queue}"`;
  const value = readLiteral(valueNode, what);
  const bad = (message: string, fix: string, at: Node = valueNode): never => {
    throw new DiagnosticError(diagnosticAt(at, `${what} ${message}`, fix));
  };

  switch (name) {
    case "maxAttempts":
      if (integerProblem(value, 1)) bad(integerProblem(value, 1)!, "e.g. maxAttempts: 10");
      options.maxAttempts = value as number;
      return;
    case "priority":
      if (integerProblem(value, -MAX_INT)) bad(integerProblem(value, -MAX_INT)!, "e.g. priority: 5 (lower runs first)");
      options.priority = value as number;
      return;
    case "concurrency":
      if (integerProblem(value, 1)) bad(integerProblem(value, 1)!, "e.g. concurrency: 4");
      options.concurrency = value as number;
      return;
    case "maxSnoozes":
      if (integerProblem(value, 0)) bad(integerProblem(value, 0)!, "e.g. maxSnoozes: 20");
      options.maxSnoozes = value as number;
      return;
    case "onDuplicate":
      if (onDuplicateProblem(value)) bad(onDuplicateProblem(value)!, 'e.g. onDuplicate: "replace" (debounce: the latest payload wins)');
      options.onDuplicate = value as Options["onDuplicate"];
      return;
    case "uniqueFor":
      checkDuration(value, bad);
      options.uniqueFor = value as Options["uniqueFor"];
      return;
    case "maxOutputBytes":
      if (integerProblem(value, 0)) bad(integerProblem(value, 0)!, "e.g. maxOutputBytes: 65536");
      options.maxOutputBytes = value as number;
      return;
    case "timeout":
      checkDuration(value, bad);
      options.timeout = value as Options["timeout"];
      return;
    case "backoff": {
      const backoff = asObject(value, BACKOFF_KEYS, valueNode, bad, "backoff: { base: \"1s\", max: \"1h\" }");
      for (const key of Object.keys(backoff)) {
        checkDuration(backoff[key]!, (message, fix) => bad(`.${key} ${message}`, fix, valueAt(valueNode, key)));
      }
      options.backoff = backoff as Options["backoff"];
      return;
    }
    case "uniqueBy":
      options.uniqueBy = readKeyFields(queue, "uniqueBy", value, valueNode, payload, bad) as never;
      return;
    case "globalConcurrency":
      if (integerProblem(value, 1)) bad(integerProblem(value, 1)!, "e.g. globalConcurrency: 3 (running at once across all workers)");
      options.globalConcurrency = value as number;
      return;
    case "concurrencyBy":
      options.concurrencyBy = readKeyFields(queue, "concurrencyBy", value, valueNode, payload, bad) as never;
      return;
    case "concurrencyPerKey": {
      const declaresKey = Node.isObjectLiteralExpression(property.getParent()) && findProperty(property.getParent()!, "concurrencyBy") !== undefined;
      const problem = concurrencyPerKeyProblem(value, declaresKey ? [] : undefined);
      if (problem) bad(problem, 'e.g. concurrencyBy: ["tenantId"], concurrencyPerKey: 2');
      options.concurrencyPerKey = value as number;
      return;
    }
    case "rateLimit": {
      const found = rateLimitProblem(value);
      if (found) {
        const [suffix, message] = found;
        const key = suffix.slice(1);
        bad(`${suffix ? `${suffix} ` : ""}${message}`, 'e.g. rateLimit: { limit: 100, per: "1m" }', key && findProperty(valueNode, key) ? valueAt(valueNode, key) : valueNode);
      }
      options.rateLimit = value as Options["rateLimit"];
      return;
    }
    case "cron":
      options.cron = readCron(queue, value, valueNode, payload, bad);
      return;
  }
}

/** `uniqueBy` or `concurrencyBy`: required fields of the object payload type, each once. */
function readKeyFields(queue: string, option: "uniqueBy" | "concurrencyBy", value: Literal, node: Node, payload: PayloadSchema | undefined, bad: Bad): string[] {
  const problem = uniqueByProblem(value);
  if (problem?.startsWith("must")) bad(problem, option === "uniqueBy" ? 'e.g. uniqueBy: ["invoiceId"]' : 'e.g. concurrencyBy: ["tenantId"]');
  const fields = value as string[];
  if (!payload) return fields;
  const elements = Node.isArrayLiteralExpression(unwrapExpression(node)) ? (unwrapExpression(node) as import("ts-morph").ArrayLiteralExpression).getElements() : [];
  if (payload.type !== "object") {
    bad(`needs an object payload type to name fields of, but the payload is ${describeSchema(payload)}`, option === "uniqueBy" ? "remove uniqueBy, or pass uniqueKey when inserting" : "remove concurrencyBy");
  }
  const object = payload as Extract<PayloadSchema, { type: "object" }>;
  const known = Object.keys(object.properties);
  fields.forEach((field, i) => {
    const at = elements[i] ?? node;
    if (fields.indexOf(field) !== i) bad(`names "${field}" twice`, `remove the second "${field}"`, at);
    if (!Object.hasOwn(object.properties, field)) {
      const suggestion = closest(field, known);
      bad(
        `names "${field}", which the payload type of queue "${queue}" does not have`,
        `${suggestion ? `did you mean "${suggestion}"? ` : ""}payload fields: ${known.join(", ") || "none"}`,
        at,
      );
    }
    if (object.optional?.includes(field)) {
      bad(`names "${field}", which is optional in the payload type: a job without it could not be keyed`, `make ${field} required in the payload type, or drop it from ${option}`, at);
    }
  });
  return fields;
}

function readCron(queue: string, value: Literal, node: Node, payload: PayloadSchema | undefined, bad: Bad): Options["cron"] {
  const cron = asObject(value, CRON_KEYS, node, bad, 'cron: { schedule: "0 3 * * *", timezone: "Europe/Berlin", payload: {} }');
  const schedule = cron.schedule;
  if (typeof schedule !== "string") {
    bad(`needs schedule, a cron expression string, got ${show(schedule)}`, 'e.g. schedule: "0 3 * * *" (minute hour day month weekday)', cron.schedule === undefined ? node : valueAt(node, "schedule"));
  }
  const timezone = cron.timezone;
  if (timezone !== undefined && (typeof timezone !== "string" || resolveTimeZone(timezone) === undefined)) {
    bad(`.timezone ${show(timezone)} is not an IANA time zone`, 'use a name such as "Europe/Berlin", "America/New_York" or "UTC"', valueAt(node, "timezone"));
  }
  const expression = schedule as string;
  const shape = cronShapeProblem(normalizeCronExpression(expression));
  if (shape) bad(`.schedule ${shape}`, 'e.g. "0 3 * * *" for 03:00 every day', valueAt(node, "schedule"));
  const parse = cronParseProblem(expression, (timezone as string | undefined) ?? "UTC");
  if (parse) bad(`.schedule ${parse}`, 'e.g. "0 3 * * *" for 03:00 every day, "*/5 * * * *" for every 5 minutes', valueAt(node, "schedule"));
  const jobPayload = cron.payload === undefined ? {} : cron.payload;
  const problem = payload && findPayloadProblem(payload, jobPayload);
  if (problem) {
    bad(
      cron.payload === undefined
        ? `has no payload, but the payload type of queue "${queue}" needs one (${problem.path} ${problem.message})`
        : `.payload does not fit the payload type: ${problem.path} ${problem.message}`,
      "give cron a payload literal of the queue's payload type, e.g. payload: { … }",
      cron.payload === undefined ? node : valueAt(node, "payload"),
    );
  }
  const result: NonNullable<Options["cron"]> = { schedule: expression };
  if (timezone !== undefined) result.timezone = timezone as string;
  if (cron.payload !== undefined) result.payload = cron.payload;
  return result;
}

type Bad = (message: string, fix: string, at?: Node) => never;

function asObject(value: Literal, keys: readonly string[], node: Node, bad: Bad, example: string): Record<string, Literal> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) bad(`must be an object, got ${show(value)}`, `e.g. ${example}`);
  const object = value as Record<string, Literal>;
  for (const key of Object.keys(object)) {
    if (!keys.includes(key)) {
      const suggestion = closest(key, keys);
      bad(`has unknown key "${key}"`, `${suggestion ? `did you mean ${suggestion}? ` : ""}known keys: ${keys.join(", ")}`, nameAt(node, key));
    }
  }
  return object;
}

function checkDuration(value: Literal, bad: (message: string, fix: string) => never): void {
  if (durationProblem(value)) bad(`must be milliseconds or a duration string like "500ms", "30s", "2m", "1h", got ${show(value)}`, 'e.g. timeout: "2m" or timeout: 120000');
}

/** The value node of `key` inside an object literal node, for pointing diagnostics precisely. */
function valueAt(node: Node, key: string): Node {
  const property = findProperty(node, key);
  return property && Node.isPropertyAssignment(property) ? property.getInitializerOrThrow() : node;
}

function nameAt(node: Node, key: string): Node {
  const property = findProperty(node, key);
  return property && Node.isPropertyAssignment(property) ? property.getNameNode() : node;
}

function findProperty(node: Node, key: string): Node | undefined {
  const object = unwrapExpression(node);
  if (!Node.isObjectLiteralExpression(object)) return undefined;
  return object.getProperties().find((p) => Node.isPropertyAssignment(p) && propertyName(p.getNameNode()) === key);
}

function show(value: Literal | undefined): string {
  return value === undefined ? "nothing" : JSON.stringify(value);
}
