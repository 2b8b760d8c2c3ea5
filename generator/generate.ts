// One run of `sidetrack generate`: parse → render → write (or, with check, compare).
import fs from "node:fs";
import path from "node:path";
import type { Project } from "ts-morph";
import { DEFAULT_SCHEMA, validateSchemaName } from "../runtime/config/identifiers.js";
import type { Diagnostic } from "./diagnostics.js";
import { parseDeclaration } from "./parse.js";
import { renderFiles, type GeneratedFile, type MigrationFormat } from "./render.js";
import { staleFiles, writeFiles } from "./write.js";

export interface GenerateOptions {
  /** The declaration. Default: sidetrack.queues.ts in `cwd` (or src/sidetrack.queues.ts). */
  queues?: string;
  /** Output folder. Default: `sidetrack/` beside the declaration. */
  out?: string;
  /** Default "sql". */
  format?: MigrationFormat;
  /** Default "sidetrack". */
  schema?: string;
  /** Compare instead of writing. */
  check?: boolean;
  cwd?: string;
  /** A project to reuse (--watch keeps one, so only changed files are re-read). */
  project?: Project;
}

export interface GenerateResult {
  /** No diagnostics, and (with check) nothing stale. */
  ok: boolean;
  diagnostics: Diagnostic[];
  declaration: string;
  outDir: string;
  files: GeneratedFile[];
  written: string[];
  unchanged: string[];
  /** With check: files that are missing or out of date. */
  stale: string[];
  /** The declaration and the local files it imports. */
  localFiles: string[];
}

export function resolveDeclarationPath(queues: string | undefined, cwd: string): string {
  if (queues) return path.resolve(cwd, queues);
  const candidates = ["sidetrack.queues.ts", "src/sidetrack.queues.ts"].map((c) => path.resolve(cwd, c));
  return candidates.find((c) => fs.existsSync(c)) ?? candidates[0]!;
}

export function generate(options: GenerateOptions = {}): GenerateResult {
  const cwd = options.cwd ?? process.cwd();
  const declaration = resolveDeclarationPath(options.queues, cwd);
  const outDir = options.out ? path.resolve(cwd, options.out) : path.join(path.dirname(declaration), "sidetrack");
  const schema = validateSchemaName(options.schema ?? DEFAULT_SCHEMA);
  const format = options.format ?? "sql";
  const parsed = parseDeclaration(declaration, options.project);
  const base = { declaration, outDir, localFiles: parsed.localFiles, written: [], unchanged: [], stale: [] };
  if (!parsed.model) return { ...base, ok: false, diagnostics: parsed.diagnostics, files: [] };

  const files = renderFiles(parsed.model, { outDir, schema, format });
  if (options.check) {
    const stale = staleFiles(files);
    return { ...base, ok: stale.length === 0, diagnostics: [], files, stale };
  }
  const { written, unchanged } = writeFiles(files);
  return { ...base, ok: true, diagnostics: [], files, written, unchanged };
}
