// `queue({ schema: Signup })`: a payload described by a Standard Schema value. The declaration is not
// run, so the schema is found by its symbol: it must be imported from a module that exports it, which
// the generated client then imports too (the one import besides the runtime). Its payload type is the
// checker's view of `Signup["~standard"]["types"]["output"]`.
import { Node, type ImportDeclaration, type PropertyAssignment, type SourceFile, type Type } from "ts-morph";
import { diagnosticAt, DiagnosticError } from "./diagnostics.js";
import { unwrapExpression } from "./literal.js";
import type { SchemaSource } from "./model.js";

export interface SchemaPayload {
  source: SchemaSource;
  /** The schema's output type: what is stored and what handlers receive. */
  output: Type;
  /** Where the schema is named, for diagnostics about its output type. */
  at: Node;
}

const MOVE_FIX = "export it from a module of its own (e.g. export const Signup = z.object({ … }) in schemas.ts) and import it: import { Signup } from \"./schemas.js\"";

export function readSchemaPayload(queue: string, property: PropertyAssignment, declaration: SourceFile): SchemaPayload {
  const expression = unwrapExpression(property.getInitializerOrThrow());
  const fail = (message: string, fix: string, at: Node = expression): never => {
    throw new DiagnosticError(diagnosticAt(at, `queue "${queue}": ${message}`, fix));
  };
  const source = schemaSource(expression, declaration, fail);
  const output = outputType(expression);
  if (!output) {
    fail(
      `schema ${expression.getText()} is not a Standard Schema (it has no "~standard" property with types)`,
      "use a schema of a library that implements Standard Schema v1 (zod 3.24+, valibot 1, arktype 2), or give the payload type instead: queue<{ … }>()",
    );
  }
  return { source, output: output!, at: expression };
}

type Fail = (message: string, fix: string, at?: Node) => never;

/** Which module exports the schema named by `expression`, and under which name. */
function schemaSource(expression: Node, declaration: SourceFile, fail: Fail): SchemaSource {
  // `schemas.Signup`, with `import * as schemas from "./schemas.js"`.
  if (Node.isPropertyAccessExpression(expression) && Node.isIdentifier(expression.getExpression())) {
    const namespace = expression.getExpression().getSymbol()?.getDeclarations()[0];
    if (namespace && Node.isNamespaceImport(namespace)) {
      const imported = namespace.getFirstAncestor(Node.isImportDeclaration);
      if (imported) return fromImport(imported, expression.getName(), expression, fail);
    }
  }
  if (!Node.isIdentifier(expression)) {
    return fail(`the schema must be named by an import, found \`${abbreviate(expression.getText())}\` (sidetrack generate reads the file without running it)`, MOVE_FIX);
  }
  const symbol = expression.getSymbol();
  const found = symbol?.getDeclarations()[0];
  if (!found) return fail(`schema ${expression.getText()} is not defined`, "import it from the module that exports it");
  if (Node.isImportSpecifier(found)) {
    const imported = found.getImportDeclaration();
    if (imported.isTypeOnly() || found.isTypeOnly()) {
      return fail(`schema ${expression.getText()} is imported with \`import type\`, which has no value at run time`, `import it as a value: import { ${found.getName()} } from "${imported.getModuleSpecifierValue()}"`);
    }
    return fromImport(imported, found.getName(), expression, fail);
  }
  if (Node.isImportClause(found) && Node.isImportDeclaration(found.getParent())) {
    if (found.isTypeOnly()) return fail(`schema ${expression.getText()} is imported with \`import type\`, which has no value at run time`, "import it as a value");
    return fromImport(found.getParent() as ImportDeclaration, "default", expression, fail);
  }
  if (found.getSourceFile() === declaration) {
    return fail(`schema ${expression.getText()} is defined in the queue declaration; the generated client imports it and must not import the declaration`, MOVE_FIX, found);
  }
  return fail(`schema ${expression.getText()} must be imported from the module that exports it`, MOVE_FIX);
}

function fromImport(imported: ImportDeclaration, exportName: string, at: Node, fail: Fail): SchemaSource {
  const specifier = imported.getModuleSpecifierValue();
  const module = imported.getModuleSpecifierSourceFile();
  if (!module) return fail(`cannot resolve "${specifier}", the module the schema is imported from`, "check the import path (and the tsconfig paths, if it uses them)", imported.getModuleSpecifier());
  if (!module.getExportedDeclarations().has(exportName)) {
    return fail(`"${specifier}" does not export ${exportName === "default" ? "a default" : exportName}`, `export it from ${specifier}: export const ${exportName === "default" ? at.getText() : exportName} = …`, at);
  }
  const inPackage = module.isInNodeModules() || module.isFromExternalLibrary();
  if (inPackage && specifier.startsWith(".")) {
    return fail(`the schema is imported by a relative path into node_modules ("${specifier}")`, "import it by the package's name", imported.getModuleSpecifier());
  }
  return inPackage ? { specifier, exportName } : { file: module.getFilePath(), specifier, exportName };
}

/** `NonNullable<S["~standard"]["types"]>["output"]`, resolved by the checker; undefined when S is no Standard Schema. */
function outputType(expression: Node): Type | undefined {
  const standard = expression.getType().getProperty("~standard")?.getTypeAtLocation(expression);
  const types = standard?.getProperty("types")?.getTypeAtLocation(expression).getNonNullableType();
  return types?.getProperty("output")?.getTypeAtLocation(expression);
}

function abbreviate(text: string): string {
  const oneLine = text.replace(/\s+/g, " ");
  return oneLine.length > 40 ? `${oneLine.slice(0, 37)}...` : oneLine;
}
