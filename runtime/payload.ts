import { SidetrackValidationError } from "./errors.js";

/**
 * Checks that a payload survives a JSON round trip unchanged: plain objects, arrays,
 * strings, finite numbers, booleans and null. Rejects what JSON.stringify would drop or
 * mangle (functions, symbols, undefined in arrays, NaN, Date, Map, class instances…) and
 * cycles, naming the property, e.g. `payload.items[2].when`.
 */
export function assertJsonPayload(value: unknown, queue: string): void {
  walk(value, "payload", queue, new Set());
}

function walk(value: unknown, path: string, queue: string, seen: Set<object>): void {
  const fail = (what: string): never => {
    throw new SidetrackValidationError(
      `queue "${queue}": ${path} is ${what}, which does not survive JSON; use strings, numbers, booleans, null, arrays and plain objects`,
      queue,
      path,
    );
  };
  switch (typeof value) {
    case "string":
      checkText(value, path, queue);
      return;
    case "boolean":
      return;
    case "number":
      if (!Number.isFinite(value)) fail(String(value));
      return;
    case "undefined":
      return fail("undefined");
    case "bigint":
      return fail("a bigint");
    case "symbol":
      return fail("a symbol");
    case "function":
      return fail("a function");
  }
  if (value === null) return;
  const object = value as object;
  if (seen.has(object)) fail("a circular reference");
  seen.add(object);
  if (Array.isArray(object)) {
    object.forEach((item, i) => walk(item, `${path}[${i}]`, queue, seen));
  } else {
    const proto = Object.getPrototypeOf(object);
    if (proto !== Object.prototype && proto !== null) {
      fail(`a ${object.constructor?.name ?? "non-plain"} object`);
    }
    for (const [key, item] of Object.entries(object)) {
      // An undefined property is simply absent after JSON, as optional properties are.
      if (item === undefined) continue;
      checkText(key, `${path} key ${JSON.stringify(key)}`, queue);
      walk(item, /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`, queue, seen);
    }
  }
  seen.delete(object);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * PostgreSQL text and jsonb cannot hold NUL (\u0000) nor unpaired UTF-16 surrogates, which
 * JavaScript strings can: refuse them here, by name, instead of a raw database error.
 */
export function checkText(text: string, path: string, queue: string): void {
  if (text.includes("\u0000")) {
    throw new SidetrackValidationError(`queue "${queue}": ${path} contains a NUL character (\\u0000), which PostgreSQL cannot store`, queue, path);
  }
  if (LONE_SURROGATE.test(text)) {
    throw new SidetrackValidationError(`queue "${queue}": ${path} contains an unpaired UTF-16 surrogate, which is not valid Unicode`, queue, path);
  }
}
