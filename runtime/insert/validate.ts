// Checks a payload against the schema `sidetrack generate` derived from the queue's payload type.
// The generated client embeds one schema per queue; this interpreter is the small runtime half.
import { SidetrackValidationError } from "../errors.js";

/** A payload type, as data. Only what survives JSON can be expressed. */
export type PayloadSchema =
  | { type: "string" }
  | { type: "number" }
  | { type: "boolean" }
  | { type: "null" }
  /** `unknown`/`any`: any JSON value (prepareInsert still rejects what JSON cannot carry). */
  | { type: "json" }
  | { type: "literal"; value: string | number | boolean }
  | { type: "array"; items: PayloadSchema }
  | { type: "tuple"; items: PayloadSchema[]; required: number }
  | {
      type: "object";
      properties: Record<string, PayloadSchema>;
      /** Names of the properties that may be absent. */
      optional?: string[];
      /** The value type of an index signature (`Record<string, T>`), when there is one. */
      additional?: PayloadSchema;
    }
  | { type: "union"; anyOf: PayloadSchema[] };

export interface PayloadProblem {
  /** e.g. `payload.items[2].sku` */
  path: string;
  /** e.g. `must be a string, got 42` */
  message: string;
}

/** Throws SidetrackValidationError naming the queue and the property when `value` does not fit `schema`. */
export function validatePayload(schema: PayloadSchema, value: unknown, queue: string): void {
  const problem = findPayloadProblem(schema, value);
  if (problem) {
    throw new SidetrackValidationError(`queue "${queue}": ${problem.path} ${problem.message}`, queue, problem.path);
  }
}

/** The first place where `value` does not fit `schema`, or undefined when it fits. */
export function findPayloadProblem(schema: PayloadSchema, value: unknown, path = "payload"): PayloadProblem | undefined {
  const fail = (expected: string): PayloadProblem => ({ path, message: `must be ${expected}, got ${describeValue(value)}` });
  switch (schema.type) {
    case "json":
      return value === undefined ? fail("a JSON value") : undefined;
    case "string":
    case "boolean":
      return typeof value === schema.type ? undefined : fail(describeSchema(schema));
    case "number":
      return typeof value === "number" && Number.isFinite(value) ? undefined : fail("a finite number");
    case "null":
      return value === null ? undefined : fail("null");
    case "literal":
      return value === schema.value ? undefined : fail(describeSchema(schema));
    case "array":
    case "tuple": {
      if (!Array.isArray(value)) return fail(describeSchema(schema));
      if (schema.type === "tuple" && (value.length < schema.required || value.length > schema.items.length)) {
        return fail(describeSchema(schema));
      }
      for (let i = 0; i < value.length; i++) {
        const item = schema.type === "array" ? schema.items : schema.items[i]!;
        const problem = findPayloadProblem(item, value[i], `${path}[${i}]`);
        if (problem) return problem;
      }
      return undefined;
    }
    case "object": {
      if (typeof value !== "object" || value === null || Array.isArray(value)) return fail("an object");
      const record = value as Record<string, unknown>;
      for (const [key, propertySchema] of Object.entries(schema.properties)) {
        const propertyPath = childPath(path, key);
        const present = Object.hasOwn(record, key) && record[key] !== undefined;
        if (!present) {
          if (schema.optional?.includes(key)) continue;
          return { path: propertyPath, message: `is required (${describeSchema(propertySchema)})` };
        }
        const problem = findPayloadProblem(propertySchema, record[key], propertyPath);
        if (problem) return problem;
      }
      if (schema.additional) {
        for (const [key, item] of Object.entries(record)) {
          if (Object.hasOwn(schema.properties, key) || item === undefined) continue;
          const problem = findPayloadProblem(schema.additional, item, childPath(path, key));
          if (problem) return problem;
        }
      }
      // Other extra properties are allowed, as TypeScript's structural types allow them;
      // prepareInsert still checks that they survive JSON.
      return undefined;
    }
    case "union": {
      if (schema.anyOf.some((member) => findPayloadProblem(member, value, path) === undefined)) return undefined;
      // When exactly one member has the value's shape (say the one object member), its problem is the useful one.
      const sameKind = schema.anyOf.filter((member) => kindOf(member) === kindOfValue(value));
      if (sameKind.length === 1) return findPayloadProblem(sameKind[0]!, value, path);
      return fail(describeSchema(schema));
    }
  }
}

/** How an expected type reads in an error message. */
export function describeSchema(schema: PayloadSchema): string {
  switch (schema.type) {
    case "string":
      return "a string";
    case "number":
      return "a number";
    case "boolean":
      return "a boolean";
    case "null":
      return "null";
    case "json":
      return "a JSON value";
    case "literal":
      return JSON.stringify(schema.value);
    case "array":
      return `an array of ${describeSchema(schema.items)}`;
    case "tuple":
      return `a tuple of ${schema.items.length === schema.required ? schema.items.length : `${schema.required}-${schema.items.length}`} items`;
    case "object":
      return "an object";
    case "union":
      return schema.anyOf.map(describeSchema).join(" | ");
  }
}

function kindOf(schema: PayloadSchema): string {
  switch (schema.type) {
    case "literal":
      return typeof schema.value;
    case "tuple":
      return "array";
    default:
      return schema.type;
  }
}

function kindOfValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

function childPath(path: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

function describeValue(value: unknown): string {
  if (value === undefined) return "undefined";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  switch (typeof value) {
    case "string":
      return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
    case "number":
    case "boolean":
      return String(value);
    case "object":
      return "an object";
    default:
      return `a ${typeof value}`;
  }
}
