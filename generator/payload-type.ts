// A queue's payload type (as the TypeScript checker resolved it, through aliases and imports) →
// self-contained TypeScript text for the generated client + a PayloadSchema for the runtime validator.
// Anything that does not survive a JSON round trip is reported at the offending property.
import { Node, ts, type Symbol as MorphSymbol, type Type } from "ts-morph";
import type { PayloadSchema } from "../runtime/insert/validate.js";
import { diagnosticAt, type Diagnostic } from "./diagnostics.js";

export interface ConvertedPayload {
  text: string;
  schema: PayloadSchema;
}

interface Context {
  queue: string;
  /** Where `getTypeOfSymbolAtLocation` resolves property types (the type argument). */
  anchor: Node;
  diagnostics: Diagnostic[];
  /** Object types being converted: a type met again inside itself is recursive. */
  stack: Type[];
}

/** Converts the payload type written at `typeNode` (the `P` of `queue<P>()`). */
export function convertPayloadType(queue: string, typeNode: Node, diagnostics: Diagnostic[], root = "payload"): ConvertedPayload {
  const context: Context = { queue, anchor: typeNode, diagnostics, stack: [] };
  return convert(typeNode.getType(), root, typeNode, context);
}

/** Converts an already resolved type (a schema's output type), reporting problems at `at`. */
export function convertResolvedType(queue: string, type: Type, at: Node, diagnostics: Diagnostic[]): ConvertedPayload {
  return convert(type, "payload", at, { queue, anchor: at, diagnostics, stack: [] });
}

const JSON_ANY: ConvertedPayload = { text: "unknown", schema: { type: "json" } };

/** Built-in object types that JSON mangles, with the fix for each. */
const NOT_JSON: Record<string, { what: string; fix: string }> = {
  Date: { what: "a Date", fix: "use a string (date.toISOString()) and parse it in the handler" },
  Map: { what: "a Map", fix: "use a plain object type (Record<string, V>) or an array of [key, value] pairs" },
  ReadonlyMap: { what: "a Map", fix: "use a plain object type (Record<string, V>) or an array of [key, value] pairs" },
  WeakMap: { what: "a WeakMap", fix: "use a plain object type (Record<string, V>)" },
  Set: { what: "a Set", fix: "use an array" },
  ReadonlySet: { what: "a Set", fix: "use an array" },
  WeakSet: { what: "a WeakSet", fix: "use an array" },
  RegExp: { what: "a RegExp", fix: "use the pattern's source as a string" },
  Promise: { what: "a Promise", fix: "await it before inserting and pass the result" },
  Error: { what: "an Error", fix: "pass the message (and stack) as strings" },
  Buffer: { what: "a Buffer", fix: "use a base64 string" },
  Uint8Array: { what: "a Uint8Array", fix: "use a base64 string or an array of numbers" },
  ArrayBuffer: { what: "an ArrayBuffer", fix: "use a base64 string" },
  URL: { what: "a URL", fix: "use a string (url.href)" },
};

function convert(type: Type, path: string, at: Node, context: Context): ConvertedPayload {
  const reject = (what: string, fix: string): ConvertedPayload => {
    context.diagnostics.push(
      diagnosticAt(at, `queue "${context.queue}": ${path} is ${what}, which does not survive JSON`, fix),
    );
    return JSON_ANY;
  };
  const flags = type.getFlags();

  if (isUnresolved(type)) return unresolved(path, at, context);
  if (type.isAny()) return { text: "any", schema: { type: "json" } };
  if (type.isUnknown()) return JSON_ANY;
  if (flags & (ts.TypeFlags.BigInt | ts.TypeFlags.BigIntLiteral)) return reject("a bigint", "use a string or a number");
  if (flags & (ts.TypeFlags.ESSymbol | ts.TypeFlags.UniqueESSymbol)) return reject("a symbol", "use a string");
  if (type.isUndefined() || type.isVoid()) return reject("undefined", "make the property optional (name?: T) or use null");
  if (type.isNever()) return reject("never", "give it a type a value can have");
  if (type.isNull()) return { text: "null", schema: { type: "null" } };
  if (type.isBooleanLiteral()) {
    const value = type.getText() === "true";
    return { text: String(value), schema: { type: "literal", value } };
  }
  if (type.isStringLiteral() || type.isNumberLiteral()) {
    const value = type.getLiteralValue() as string | number;
    return { text: JSON.stringify(value), schema: { type: "literal", value } };
  }
  if (type.isString() || type.isTemplateLiteral() || flags & ts.TypeFlags.StringMapping) return { text: "string", schema: { type: "string" } };
  if (type.isNumber()) return { text: "number", schema: { type: "number" } };
  if (type.isBoolean()) return { text: "boolean", schema: { type: "boolean" } };
  if (type.isUnion()) return convertUnion(type.getUnionTypes(), path, at, context);
  if (type.isIntersection()) {
    // A branded primitive (`string & { __brand: "Id" }`) is the primitive in JSON.
    const primitive = type.getIntersectionTypes().find((t) => t.isString() || t.isNumber() || t.isBoolean() || t.isLiteral());
    if (primitive) return convert(primitive, path, at, context);
    return convertIntersection(type, path, at, context);
  }
  if (type.isTypeParameter()) return reject("an unresolved type parameter", "use a concrete type");
  if (type.isArray() || type.isReadonlyArray()) {
    const element = type.getArrayElementType() ?? type.getTypeArguments()[0];
    if (!element) return JSON_ANY;
    const item = convert(element, `${path}[number]`, at, context);
    return { text: `${parenthesize(item.text)}[]`, schema: { type: "array", items: item.schema } };
  }
  if (type.isTuple()) return convertTuple(type, path, at, context);
  if (type.getCallSignatures().length > 0) return reject("a function", "remove it: a payload carries data, not behaviour");
  if (type.getConstructSignatures().length > 0) return reject("a class", "pass the data the handler needs instead");
  if (type.isObject()) {
    const name = type.getSymbol()?.getName();
    const builtin = name ? NOT_JSON[name] : undefined;
    if (builtin && isFromLibrary(type)) return reject(builtin.what, builtin.fix);
    if (type.isClass()) {
      return reject(`an instance of class ${name}`, "use a plain object type (an interface or type literal) with the data fields");
    }
    if (isFromDefaultLibrary(type) && name !== "__type" && name !== "__object" && !type.isAnonymous()) {
      return reject(`a ${name} object`, "use strings, numbers, booleans, null, arrays and plain objects");
    }
    return convertObject(type, path, at, context);
  }
  return reject(`of type ${type.getText()}`, "use strings, numbers, booleans, null, arrays and plain objects");
}

function convertUnion(members: Type[], path: string, at: Node, context: Context): ConvertedPayload {
  // `undefined` in a union means "may be absent": handled by the object (optional property).
  const defined = members.filter((m) => !m.isUndefined());
  if (defined.length === 0) return convert(members[0]!, path, at, context);
  const converted: ConvertedPayload[] = [];
  // The checker splits `boolean` into `false | true`; put it back together for readable output.
  const hasTrue = defined.some((m) => m.isBooleanLiteral() && m.getText() === "true");
  const hasFalse = defined.some((m) => m.isBooleanLiteral() && m.getText() === "false");
  for (const member of defined) {
    if (hasTrue && hasFalse && member.isBooleanLiteral()) {
      if (member.getText() === "true") converted.push({ text: "boolean", schema: { type: "boolean" } });
      continue;
    }
    converted.push(convert(member, path, at, context));
  }
  if (converted.length === 1) return converted[0]!;
  return {
    text: converted.map((c) => parenthesize(c.text)).join(" | "),
    schema: { type: "union", anyOf: converted.map((c) => c.schema) },
  };
}

/**
 * `Base & { n: number }`: one object with the members' properties merged, as the checker merges
 * them. Members that are not plain objects are reported as they would be on their own; a property
 * whose merged type is never (`{ a: string } & { a: number }`) is a conflict, reported where the
 * second member declares it.
 */
function convertIntersection(type: Type, path: string, at: Node, context: Context): ConvertedPayload {
  const members = type.getIntersectionTypes();
  const unfit = members.filter((m) => !isPlainObject(m));
  if (unfit.length > 0) {
    const before = context.diagnostics.length;
    for (const member of unfit) convert(member, path, at, context);
    if (context.diagnostics.length === before) {
      context.diagnostics.push(
        diagnosticAt(at, `queue "${context.queue}": ${path} is of type ${type.getText()}, which does not survive JSON`, "intersect only object types: A & B where both are interfaces or type literals"),
      );
    }
    return JSON_ANY;
  }
  // Which members declare each property. A property whose merged type is never is a conflict; so is
  // one that vanished from the merge, as the checker reduces the whole intersection to never when two
  // members give a property different literal types (`{ kind: "a" } & { kind: "b" }`).
  const declaredBy = new Map<string, Node[]>();
  for (const member of members) {
    for (const symbol of member.getProperties()) {
      const declaration = symbol.getDeclarations()[0];
      if (declaration) declaredBy.set(symbol.getName(), [...(declaredBy.get(symbol.getName()) ?? []), declaration]);
    }
  }
  const merged = new Map(type.getProperties().map((symbol) => [symbol.getName(), symbol]));
  const conflicts = new Set<string>();
  for (const [name, declarations] of declaredBy) {
    if (declarations.length < 2) continue;
    const symbol = merged.get(name);
    if (symbol && !symbol.getTypeAtLocation(context.anchor).isNever()) continue;
    conflicts.add(name);
    context.diagnostics.push(conflictDiagnostic(context.queue, path, { name, first: declarations[0]!, second: declarations[1]! }));
  }
  if (conflicts.size > 0) return JSON_ANY;
  return convertObject(type, path, at, context);
}

interface Conflict {
  name: string;
  first: Node;
  second: Node;
}

function conflictDiagnostic(queue: string, path: string, { name, first, second }: Conflict) {
  const typeOf = (n: Node) => (Node.isPropertySignature(n) ? n.getTypeNode()?.getText() : undefined) ?? n.getType().getText();
  const where = Node.hasName(second) ? second.getNameNode() : second;
  return diagnosticAt(
    where,
    `queue "${queue}": ${childPath(path, name)} is ${typeOf(first)} in one member of the intersection and ${typeOf(second)} in another, so no value fits`,
    `give ${name} one type in every member, or override it: Omit<Base, "${name}"> & { ${name}: … }`,
  );
}

/** A name the checker could not resolve: a typo, a missing import, or a DOM/Node type (not loaded). */
function isUnresolved(type: Type): boolean {
  return (type.compilerType as { intrinsicName?: string }).intrinsicName === "error";
}

function unresolved(path: string, at: Node, context: Context): ConvertedPayload {
  const parent = at.getParent();
  const typeNode = parent && Node.isPropertySignature(parent) ? parent.getTypeNode() : at;
  const written = typeNode?.getText() ?? "";
  const builtin = (written.match(/[A-Za-z_$][\w$]*/g) ?? []).find((name) => NOT_JSON[name] || WEB_TYPES.includes(name));
  if (builtin) {
    // Not loaded (DOM, @types/node) but known by name: the same report as when it is loaded.
    const { what, fix } = NOT_JSON[builtin] ?? { what: `a ${builtin}`, fix: "pass what the handler needs as strings, numbers, booleans, arrays and plain objects" };
    context.diagnostics.push(diagnosticAt(at, `queue "${context.queue}": ${path} is ${what}, which does not survive JSON`, fix));
  } else {
    context.diagnostics.push(
      diagnosticAt(at, `queue "${context.queue}": ${path} has type ${written}, which sidetrack generate cannot resolve`,
        "import the type, or check its spelling (DOM and @types/node types are not loaded: a payload is JSON data)"),
    );
  }
  return JSON_ANY;
}

/** DOM and Node types users reach for that are not in the ECMAScript library (and not JSON data). */
const WEB_TYPES = ["Blob", "File", "FormData", "Headers", "Request", "Response", "ReadableStream", "URLSearchParams", "AbortSignal", "Element", "HTMLElement", "Event"];

/** An object type that converts as an object: not callable, not a class instance, not a built-in. */
function isPlainObject(type: Type): boolean {
  if (!type.isObject() || type.isArray() || type.isReadonlyArray() || type.isTuple()) return false;
  if (type.getCallSignatures().length > 0 || type.getConstructSignatures().length > 0 || type.isClass()) return false;
  const name = type.getSymbol()?.getName();
  if (name && NOT_JSON[name] && isFromLibrary(type)) return false;
  return !(isFromDefaultLibrary(type) && name !== "__type" && name !== "__object" && !type.isAnonymous());
}

function convertTuple(type: Type, path: string, at: Node, context: Context): ConvertedPayload {
  const target = (type.compilerType as ts.TypeReference).target as ts.TupleType;
  if (target.hasRestElement) return convertRestTuple(type, path, at, context);
  const items = type.getTupleElements().map((element, i) => convert(element, `${path}[${i}]`, at, context));
  const required = target.minLength;
  const text = items.map((item, i) => (i < required ? item.text : `${parenthesize(item.text)}?`)).join(", ");
  return { text: `[${text}]`, schema: { type: "tuple", items: items.map((i) => i.schema), required } };
}

function convertRestTuple(type: Type, path: string, at: Node, context: Context): ConvertedPayload {
  // `[A, ...B[]]` is rare in payloads; accept it as an array of the union of its elements.
  const item = convertUnion(type.getTupleElements(), `${path}[number]`, at, context);
  return { text: `${parenthesize(item.text)}[]`, schema: { type: "array", items: item.schema } };
}

function convertObject(type: Type, path: string, at: Node, context: Context): ConvertedPayload {
  if (context.stack.some((t) => t.compilerType === type.compilerType)) {
    context.diagnostics.push(
      diagnosticAt(at, `queue "${context.queue}": ${path} refers to its own type; recursive payload types are not supported`,
        "flatten the type, or type the recursive part as unknown"),
    );
    return JSON_ANY;
  }
  context.stack.push(type);
  try {
    const properties: Record<string, PayloadSchema> = {};
    const optional: string[] = [];
    const parts: string[] = [];
    for (const symbol of type.getProperties()) {
      const name = symbol.getName();
      const declaration = declarationIn(symbol);
      const where = declaration ?? at;
      const propertyPath = childPath(path, name);
      if (name.startsWith("__@")) {
        context.diagnostics.push(diagnosticAt(where, `queue "${context.queue}": ${path} has a symbol-keyed property, which does not survive JSON`, "use a string key"));
        continue;
      }
      const propertyType = symbol.getTypeAtLocation(context.anchor);
      const mayBeUndefined = propertyType.isUnion() && propertyType.getUnionTypes().some((t) => t.isUndefined());
      const isOptional = symbol.isOptional() || mayBeUndefined;
      const converted = convert(propertyType, propertyPath, where, context);
      properties[name] = converted.schema;
      if (isOptional) optional.push(name);
      const signature = symbol.getDeclarations()[0];
      const readonly = signature && Node.isPropertySignature(signature) && signature.isReadonly() ? "readonly " : "";
      parts.push(`${readonly}${propertyKey(name)}${isOptional ? "?" : ""}: ${converted.text}`);
    }
    const index = type.getStringIndexType() ?? type.getNumberIndexType();
    let additional: PayloadSchema | undefined;
    if (index?.isNever()) {
      // `Record<string, never>`, the empty payload: no property can have a value.
      parts.push("[key: string]: never");
    } else if (index) {
      const converted = convert(index, `${path}[string]`, at, context);
      additional = converted.schema;
      parts.push(`[key: string]: ${converted.text}`);
    }
    const schema: PayloadSchema = { type: "object", properties };
    if (optional.length > 0) schema.optional = optional;
    if (additional) schema.additional = additional;
    return { text: parts.length === 0 ? "{}" : `{ ${parts.join("; ")} }`, schema };
  } finally {
    context.stack.pop();
  }
}

/** The property's declaration when it is in the user's code (not a lib or node_modules file). */
function declarationIn(symbol: MorphSymbol): Node | undefined {
  const declaration = symbol.getDeclarations()[0];
  if (!declaration) return undefined;
  const file = declaration.getSourceFile();
  if (file.isInNodeModules() || file.isFromExternalLibrary() || file.isDeclarationFile()) return undefined;
  // Point at the name: that is where the user's eye goes.
  return Node.hasName(declaration) ? declaration.getNameNode() : declaration;
}

/** Declared in TypeScript's own lib files: a built-in such as Date, Map or a typed array. */
function isFromDefaultLibrary(type: Type): boolean {
  const declarations = type.getSymbol()?.getDeclarations() ?? [];
  return declarations.length > 0 && declarations.every((d) => /[\\/]typescript[\\/]lib[\\/]lib\.[^\\/]*\.d\.ts$/.test(d.getSourceFile().getFilePath()));
}

/** Declared in a .d.ts (lib or node_modules): for the named built-ins of NOT_JSON, such as Buffer. */
function isFromLibrary(type: Type): boolean {
  const declarations = type.getSymbol()?.getDeclarations() ?? [];
  return declarations.length > 0 && declarations.every((d) => {
    const file = d.getSourceFile();
    return file.isDeclarationFile() || file.isInNodeModules();
  });
}

function propertyKey(name: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(name) ? name : JSON.stringify(name);
}

function childPath(path: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`;
}

/** Union and function-ish texts need parentheses inside `T[]` and other unions. */
function parenthesize(text: string): string {
  return /^[\w"{[]/.test(text) && !/ \| /.test(topLevel(text)) ? text : `(${text})`;
}

/** The text with nested {…}, […], (…) and strings blanked out, to look for a top-level `|`. */
function topLevel(text: string): string {
  let depth = 0;
  let inString = false;
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if ("{[(".includes(c)) depth++;
    else if ("}])".includes(c)) depth--;
    else if (depth === 0) out += c;
  }
  return out;
}
