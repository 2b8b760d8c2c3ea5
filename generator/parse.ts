// sidetrack.queues.ts → DeclarationModel. Reads the file with the TypeScript compiler (through
// ts-morph) and never executes it: queue names and options must be literals, payload types are
// resolved by the type checker through aliases and imports.
import fs from "node:fs";
import path from "node:path";
import { Node, Project, ts, type CallExpression, type PropertyAssignment, type SourceFile } from "ts-morph";
import { isValidQueueName } from "../runtime/config/identifiers.js";
import { diagnosticAt, DiagnosticError, type Diagnostic } from "./diagnostics.js";
import { propertyName, unwrapExpression } from "./literal.js";
import type { DeclarationModel, QueueModel } from "./model.js";
import { readQueueOptions } from "./options.js";
import { convertPayloadType, convertResolvedType } from "./payload-type.js";
import { readSchemaPayload } from "./schema-payload.js";

export interface ParseResult {
  /** Present when there were no diagnostics. */
  model?: DeclarationModel;
  diagnostics: Diagnostic[];
  /** The declaration and the local files it imports (also when parsing failed, so --watch follows them). */
  localFiles: string[];
}

const RUNTIME_MODULE = "sidetrack";

/**
 * What the compiler sees for `import … from "sidetrack"` while reading a declaration. The
 * generator recognises `defineQueues`/`queue` by syntax, so the real runtime's types are not
 * needed; loading them would pull in pg's and Node's typings (@types/node alone is most of a
 * cold run's time).
 */
const RUNTIME_STUB = `export interface QueueDefinition<Payload = unknown> { readonly options: unknown; readonly __payload?: Payload }
export declare function queue<Payload, Output = unknown>(options?: unknown): QueueDefinition<Payload>;
export declare function defineQueues<const Q extends Record<string, QueueDefinition<any>>>(queues: Q): Q;
`;

/** The standard library the declaration is read against, whatever the user's tsconfig says. */
const DECLARATION_LIB = "lib.es2023.d.ts";

/**
 * A ts-morph project for reading declarations. Uses the nearest tsconfig.json's compiler options
 * (for `paths` and strictness) without adding its files; --watch keeps one project and refreshes it.
 * "sidetrack" resolves to RUNTIME_STUB and no global `types` are loaded, which keeps a cold run
 * to the declaration, the files it imports and the standard library.
 */
export function createDeclarationProject(declarationFile: string): Project {
  const stubPath = path.join(path.dirname(path.resolve(declarationFile)), "__sidetrack_runtime__.d.ts");
  const resolutionHost = (host: ts.ModuleResolutionHost, getCompilerOptions: () => ts.CompilerOptions) => ({
    resolveModuleNames: (moduleNames: string[], containingFile: string) =>
      moduleNames.map((name) =>
        name === RUNTIME_MODULE
          ? { resolvedFileName: stubPath, extension: ts.Extension.Dts, isExternalLibraryImport: false }
          : ts.resolveModuleName(name, containingFile, getCompilerOptions(), host).resolvedModule,
      ),
  });
  const tsConfigFilePath = ts.findConfigFile(path.dirname(path.resolve(declarationFile)), (f) => fs.existsSync(f));
  const project = tsConfigFilePath
    ? new Project({ tsConfigFilePath, skipAddingFilesFromTsConfig: true, skipFileDependencyResolution: true, resolutionHost })
    : new Project({
        compilerOptions: {
          strict: true,
          target: ts.ScriptTarget.ES2022,
          module: ts.ModuleKind.NodeNext,
          moduleResolution: ts.ModuleResolutionKind.NodeNext,
          skipLibCheck: true,
        },
        skipFileDependencyResolution: true,
        resolutionHost,
      });
  // Strict null checks keep `string | null` a union. Only the ECMAScript library is loaded: a payload
  // is JSON data, which no DOM or Node type is, and lib.dom.d.ts alone cost a cold run about 0.4 s. A
  // payload naming such a type is reported as unresolved (payload-type.ts). The rest of the user's
  // settings stand.
  project.compilerOptions.set({ strictNullChecks: true, noEmit: true, types: [], lib: [DECLARATION_LIB] });
  project.createSourceFile(stubPath, RUNTIME_STUB, { overwrite: true });
  return project;
}

export function parseDeclaration(declarationFile: string, project = createDeclarationProject(declarationFile)): ParseResult {
  const file = path.resolve(declarationFile);
  if (!fs.existsSync(file)) {
    return {
      diagnostics: [{ file, line: 1, column: 1, message: `queue declaration ${file} does not exist`, fix: "create it, or pass its path with --queues path/to/sidetrack.queues.ts" }],
      localFiles: [],
    };
  }
  const sourceFile = project.getSourceFile(file) ?? project.addSourceFileAtPath(file);
  const localFiles = localImports(sourceFile);

  const diagnostics: Diagnostic[] = [];
  let queues: QueueModel[] = [];
  try {
    queues = readQueues(sourceFile, diagnostics);
  } catch (error) {
    if (!(error instanceof DiagnosticError)) throw error;
    diagnostics.push(error.diagnostic);
  }
  diagnostics.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
  if (diagnostics.length > 0) return { diagnostics, localFiles };
  return { model: { file, queues, localFiles }, diagnostics, localFiles };
}

function readQueues(sourceFile: SourceFile, diagnostics: Diagnostic[]): QueueModel[] {
  const call = findDefineQueuesCall(sourceFile);
  const args = call.getArguments();
  const object = args[0] && unwrapExpression(args[0]);
  if (!object || !Node.isObjectLiteralExpression(object) || args.length > 1) {
    throw new DiagnosticError(
      diagnosticAt(args[0] ?? call, "defineQueues takes one object literal of queues", "write defineQueues({ myQueue: queue<{ id: string }>() })"),
    );
  }

  const queues: QueueModel[] = [];
  const seen = new Map<string, Node>();
  const functionNames = new Map<string, string>();
  for (const property of object.getProperties()) {
    try {
      const queue = readQueue(sourceFile, property, diagnostics);
      if (!queue) continue;
      const nameNode = (property as import("ts-morph").PropertyAssignment).getNameNode();
      const first = seen.get(queue.name);
      if (first) {
        const { line, column } = first.getSourceFile().getLineAndColumnAtPos(first.getStart());
        throw new DiagnosticError(diagnosticAt(nameNode, `queue "${queue.name}" is declared twice (first at line ${line}:${column})`, "rename or remove one of them"));
      }
      const clash = functionNames.get(queue.pascalName);
      if (clash) {
        throw new DiagnosticError(
          diagnosticAt(nameNode, `queues "${clash}" and "${queue.name}" would both generate insert${queue.pascalName}`, "rename one so the names differ by more than the first letter's case"),
        );
      }
      seen.set(queue.name, nameNode);
      functionNames.set(queue.pascalName, queue.name);
      queues.push(queue);
    } catch (error) {
      if (!(error instanceof DiagnosticError)) throw error;
      diagnostics.push(error.diagnostic);
    }
  }
  if (queues.length === 0 && diagnostics.length === 0) {
    throw new DiagnosticError(diagnosticAt(object, "defineQueues declares no queues", "add one: defineQueues({ myQueue: queue<{ id: string }>() })"));
  }
  return queues;
}

function readQueue(sourceFile: SourceFile, property: Node, diagnostics: Diagnostic[]): QueueModel | undefined {
  if (!Node.isPropertyAssignment(property)) {
    throw new DiagnosticError(
      diagnosticAt(property, "each queue must be written as `name: queue<Payload>(options)`", "spell the queue out inside defineQueues instead of a spread, shorthand or method"),
    );
  }
  const nameNode = property.getNameNode();
  const name = propertyName(nameNode);
  if (name === undefined) {
    throw new DiagnosticError(diagnosticAt(nameNode, "a queue name must be written out, not computed", 'use a plain name: sendInvoice: queue<…>() or "sendInvoice": queue<…>()'));
  }
  if (!isValidQueueName(name)) {
    throw new DiagnosticError(
      diagnosticAt(nameNode, `invalid queue name "${name}": use 1-100 letters, digits or _, starting with a letter`, `rename it, e.g. "${suggestName(name)}"`),
    );
  }
  const value = unwrapExpression(property.getInitializerOrThrow());
  if (!Node.isCallExpression(value) || !isRuntimeFunction(sourceFile, value, "queue")) {
    throw new DiagnosticError(
      diagnosticAt(value, `queue "${name}" must be declared with queue<Payload>(options) from "sidetrack"`, `write ${name}: queue<{ … }>() and import { queue } from "sidetrack"`),
    );
  }
  const typeArguments = value.getTypeArguments();
  const schemaProperty = findSchemaProperty(value.getArguments()[0]);
  if (schemaProperty && typeArguments.length > 0) {
    throw new DiagnosticError(
      diagnosticAt(typeArguments[0]!, `queue "${name}" has both a payload type and a schema`, `drop the type argument: ${name}: queue({ schema: … }) takes its payload type from the schema's output`),
    );
  }
  if (!schemaProperty && typeArguments.length === 0) {
    throw new DiagnosticError(
      diagnosticAt(value, `queue "${name}" has no payload type`, `name it: ${name}: queue<{ id: string }>() (use queue<Record<string, never>>() for an empty payload), or give a schema: queue({ schema: Signup })`),
    );
  }
  if (typeArguments.length > 2) {
    throw new DiagnosticError(diagnosticAt(typeArguments[2]!, `queue<P, R>() takes a payload type and an output type; queue "${name}" has more`, "remove the extra type arguments"));
  }
  if (value.getArguments().length > 1) {
    throw new DiagnosticError(diagnosticAt(value.getArguments()[1]!, `queue<P>() takes one options object; queue "${name}" has more arguments`, "merge them into one object literal"));
  }
  const payloadDiagnostics: Diagnostic[] = [];
  const schema = schemaProperty && readSchemaPayload(name, schemaProperty, sourceFile);
  const payload = schema
    ? convertResolvedType(name, schema.output, schema.at, payloadDiagnostics)
    : convertPayloadType(name, typeArguments[0]!, payloadDiagnostics);
  // The output type R of queue<P, R>(): JSON like a payload, since it is stored on the job.
  const output = typeArguments[1] && convertPayloadType(name, typeArguments[1], payloadDiagnostics, "output");
  diagnostics.push(...payloadDiagnostics);
  // Options that refer to the payload (uniqueBy, cron.payload) are only checked against a valid payload type.
  const options = readQueueOptions(name, value.getArguments()[0], payloadDiagnostics.length > 0 ? undefined : payload.schema, diagnostics);
  if (payloadDiagnostics.length > 0) return undefined;
  return {
    name,
    pascalName: name[0]!.toUpperCase() + name.slice(1),
    payloadType: payload.text,
    payloadSchema: payload.schema,
    ...(output ? { outputType: output.text } : {}),
    ...(schema ? { schema: schema.source } : {}),
    options,
  };
}

/** The `schema: …` property of an options object literal, when there is one. */
function findSchemaProperty(optionsNode: Node | undefined): PropertyAssignment | undefined {
  const literal = optionsNode && unwrapExpression(optionsNode);
  if (!literal || !Node.isObjectLiteralExpression(literal)) return undefined;
  const property = literal.getProperties().find((p) => Node.isPropertyAssignment(p) && propertyName(p.getNameNode()) === "schema");
  return property as PropertyAssignment | undefined;
}

/**
 * The declaration and every file it imports, transitively, that is the user's own code: what a
 * change to must regenerate. node_modules (and "sidetrack" itself) are not followed.
 */
function localImports(sourceFile: SourceFile): string[] {
  const found = new Set<SourceFile>();
  const visit = (file: SourceFile) => {
    if (found.has(file)) return;
    found.add(file);
    for (const declaration of [...file.getImportDeclarations(), ...file.getExportDeclarations()]) {
      const specifier = declaration.getModuleSpecifierValue();
      if (specifier === undefined || specifier === RUNTIME_MODULE || specifier.startsWith(`${RUNTIME_MODULE}/`)) continue;
      const target = declaration.getModuleSpecifierSourceFile();
      if (target && !target.isInNodeModules() && !target.isFromExternalLibrary()) visit(target);
    }
  };
  visit(sourceFile);
  return [...found].map((f) => path.normalize(f.getFilePath())).sort();
}

/** The `defineQueues(…)` call the file exports by default, directly or through a const. */
function findDefineQueuesCall(sourceFile: SourceFile): CallExpression {
  const exportAssignment = sourceFile.getExportAssignment((e) => !e.isExportEquals());
  const fix = "end the file with: export default defineQueues({ … }) (import { defineQueues, queue } from \"sidetrack\")";
  if (!exportAssignment) {
    const defaultDeclaration = sourceFile.getStatements().find((s) => Node.isExportable(s) && s.isDefaultExport());
    if (defaultDeclaration) {
      throw new DiagnosticError(diagnosticAt(defaultDeclaration, "the default export is not a defineQueues({ … }) call", fix));
    }
    throw new DiagnosticError({ file: sourceFile.getFilePath(), line: 1, column: 1, message: `${path.basename(sourceFile.getFilePath())} has no default export`, fix });
  }
  let expression = unwrapExpression(exportAssignment.getExpression());
  if (Node.isIdentifier(expression)) {
    // `const queues = defineQueues({…}); export default queues;`
    const declaration = expression.getSymbol()?.getDeclarations()[0];
    if (declaration && Node.isVariableDeclaration(declaration) && declaration.getInitializer()) {
      expression = unwrapExpression(declaration.getInitializerOrThrow());
    }
  }
  if (!Node.isCallExpression(expression) || !isRuntimeFunction(sourceFile, expression, "defineQueues")) {
    throw new DiagnosticError(diagnosticAt(expression, "the default export is not a defineQueues({ … }) call", fix));
  }
  return expression;
}

/** Whether `call` calls `name` imported from "sidetrack" (`name(…)`, `alias(…)` or `ns.name(…)`). */
function isRuntimeFunction(sourceFile: SourceFile, call: CallExpression, name: string): boolean {
  const callee = call.getExpression();
  for (const declaration of sourceFile.getImportDeclarations()) {
    if (declaration.getModuleSpecifierValue() !== RUNTIME_MODULE) continue;
    if (Node.isIdentifier(callee)) {
      const named = declaration.getNamedImports().find((n) => n.getName() === name);
      if (named && (named.getAliasNode()?.getText() ?? name) === callee.getText()) return true;
    }
    if (Node.isPropertyAccessExpression(callee) && callee.getName() === name) {
      const namespace = declaration.getNamespaceImport();
      if (namespace && namespace.getText() === callee.getExpression().getText()) return true;
    }
  }
  return false;
}

function suggestName(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9_]+(.)?/g, (_, c: string | undefined) => (c ? c.toUpperCase() : "")).replace(/^[^A-Za-z]+/, "");
  return cleaned.slice(0, 100) || "myQueue";
}
