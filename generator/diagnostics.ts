// Every problem the generator finds in a declaration: where it is, what is wrong, and the one-line fix.
import path from "node:path";
import type { Node } from "ts-morph";

export interface Diagnostic {
  /** Absolute path of the file the problem is in (the declaration or a file it imports). */
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  message: string;
  /** One line telling the user what to change. */
  fix: string;
}

/** A diagnostic at a node of a parsed file. */
export function diagnosticAt(node: Node, message: string, fix: string): Diagnostic {
  const sourceFile = node.getSourceFile();
  const { line, column } = sourceFile.getLineAndColumnAtPos(node.getStart());
  return { file: sourceFile.getFilePath(), line, column, message, fix };
}

/** `path/to/file.ts:3:7 error: message\n  fix: …`, with the path relative to `cwd` when inside it. */
export function formatDiagnostic(d: Diagnostic, cwd = process.cwd()): string {
  const relative = path.relative(cwd, d.file);
  const shown = relative && !relative.startsWith("..") && !path.isAbsolute(relative) ? relative : d.file;
  return `${shown}:${d.line}:${d.column} error: ${d.message}\n  fix: ${d.fix}`;
}

/** Thrown inside the parser to stop at the first problem that makes the rest meaningless. */
export class DiagnosticError extends Error {
  constructor(readonly diagnostic: Diagnostic) {
    super(diagnostic.message);
  }
}
