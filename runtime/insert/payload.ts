import { SidetrackValidationError } from "../errors.js";

/**
 * Checks that a payload survives a JSON round trip unchanged: plain objects, arrays,
 * strings, finite numbers, booleans and null. Rejects what JSON.stringify would drop or
 * mangle (functions, symbols, undefined in arrays, NaN, Date, Map, class instances…) and
 * cycles, naming the property, e.g. `payload.items[2].when`.
 */
export function assertJsonPayload(value: unknown, queue: string): void {
  walk(value, [], [], queue, "payload");
}

/**
 * The same check for other JSON a job stores (`output`, `progress`, `meta`): `root` names the
 * value in the message, e.g. `output.when is a Date object…`.
 */
export function assertJsonValue(value: unknown, queue: string, root: string): void {
  walk(value, [], [], queue, root);
}

/**
 * `path` holds the keys and array indexes from the payload down to `value`, and
 * `ancestors` the objects above it (a cycle is a value that is its own ancestor). The
 * path's text is only made when something fails: building it for every property was most of
 * what checking a large batch cost.
 */
function walk(value: unknown, path: (string | number)[], ancestors: object[], queue: string, root: string): void {
  switch (typeof value) {
    case "string":
      if (hasBadText(value)) checkText(value, pathText(path, root), queue);
      return;
    case "boolean":
      return;
    case "number":
      if (!Number.isFinite(value)) failAt(path, root, queue, String(value));
      return;
    case "undefined":
      return failAt(path, root, queue, "undefined");
    case "bigint":
      return failAt(path, root, queue, "a bigint");
    case "symbol":
      return failAt(path, root, queue, "a symbol");
    case "function":
      return failAt(path, root, queue, "a function");
  }
  if (value === null) return;
  const object = value as object;
  if (ancestors.includes(object)) failAt(path, root, queue, "a circular reference");
  ancestors.push(object);
  if (Array.isArray(object)) {
    for (let i = 0; i < object.length; i++) {
      path.push(i);
      walk(object[i], path, ancestors, queue, root);
      path.pop();
    }
  } else {
    const proto = Object.getPrototypeOf(object);
    if (proto !== Object.prototype && proto !== null) {
      failAt(path, root, queue, `a ${object.constructor?.name ?? "non-plain"} object`);
    }
    for (const key in object) {
      if (!Object.hasOwn(object, key)) continue;
      const item = (object as Record<string, unknown>)[key];
      // An undefined property is simply absent after JSON, as optional properties are.
      if (item === undefined) continue;
      if (hasBadText(key)) checkText(key, `${pathText(path, root)} key ${JSON.stringify(key)}`, queue);
      path.push(key);
      walk(item, path, ancestors, queue, root);
      path.pop();
    }
  }
  ancestors.pop();
}

function failAt(path: readonly (string | number)[], root: string, queue: string, what: string): never {
  const where = pathText(path, root);
  throw new SidetrackValidationError(
    `queue "${queue}": ${where} is ${what}, which does not survive JSON; use strings, numbers, booleans, null, arrays and plain objects`,
    queue,
    where,
  );
}

/** `payload.items[2].when`, `payload["odd key"]`. */
function pathText(path: readonly (string | number)[], root: string): string {
  let text = root;
  for (const segment of path) {
    if (typeof segment === "number") text += `[${segment}]`;
    else text += /^[A-Za-z_$][\w$]*$/.test(segment) ? `.${segment}` : `[${JSON.stringify(segment)}]`;
  }
  return text;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
/** Any NUL or surrogate at all: one quick test before the exact ones below. */
const SUSPECT_TEXT = /[\u0000\uD800-\uDFFF]/;

function hasBadText(text: string): boolean {
  return SUSPECT_TEXT.test(text) && (text.includes("\u0000") || LONE_SURROGATE.test(text));
}

/**
 * PostgreSQL text and jsonb cannot hold NUL (\u0000) nor unpaired UTF-16 surrogates, which
 * JavaScript strings can: refuse them here, by name, instead of a raw database error.
 */
export function checkText(text: string, path: string, queue: string): void {
  if (!hasBadText(text)) return;
  if (text.includes("\u0000")) {
    throw new SidetrackValidationError(`queue "${queue}": ${path} contains a NUL character (\\u0000), which PostgreSQL cannot store`, queue, path);
  }
  if (LONE_SURROGATE.test(text)) {
    throw new SidetrackValidationError(`queue "${queue}": ${path} contains an unpaired UTF-16 surrogate, which is not valid Unicode`, queue, path);
  }
}
