// DeclarationModel → the generated files (contents only; nothing touches the disk here).
import path from "node:path";
import { renderClient } from "../templates/client.js";
import { prismaMigrationFiles, sqlMigrationFiles } from "../templates/migrations.js";
import type { DeclarationModel, SchemaSource } from "./model.js";

export type MigrationFormat = "sql" | "prisma";

export interface RenderOptions {
  /** Absolute output folder. */
  outDir: string;
  schema: string;
  format: MigrationFormat;
}

export interface GeneratedFile {
  /** Absolute path. */
  path: string;
  content: string;
}

export function renderFiles(model: DeclarationModel, { outDir, schema, format }: RenderOptions): GeneratedFile[] {
  // Paths in headers are relative and use "/", so output does not depend on where the project lives.
  const sourceFrom = (dir: string) => toPosix(path.relative(dir, model.file));
  const client = renderClient({
    source: sourceFrom(outDir),
    schema,
    queues: model.queues.map(({ schema: source, ...q }) => ({
      ...q,
      options: q.options as Record<string, unknown>,
      ...(source ? { schema: { specifier: schemaSpecifier(source, outDir), exportName: source.exportName } } : {}),
    })),
  });
  const migrations =
    format === "prisma" ? prismaMigrationFiles(schema, sourceFrom(path.join(outDir, "prisma-migrations", "x"))) : sqlMigrationFiles(schema, sourceFrom(path.join(outDir, "migrations")));
  return [
    { path: path.join(outDir, "client.ts"), content: client },
    ...migrations.map((m) => ({ path: path.join(outDir, ...m.path.split("/")), content: m.content })),
  ];
}

function toPosix(p: string): string {
  return p.split(path.sep).join("/");
}

/**
 * How the generated client imports a schema: a package by its name; the user's own module by a path
 * relative to the output folder, in the style the declaration's import was written in (`./s.js`,
 * `./s.ts` or `./s`), so it resolves under the same module settings.
 */
function schemaSpecifier(source: SchemaSource, outDir: string): string {
  if (!source.file) return source.specifier;
  let relative = toPosix(path.relative(outDir, source.file));
  if (!relative.startsWith(".")) relative = `./${relative}`;
  const extension = /\.d\.[cm]?ts$|\.[cm]?[jt]sx?$/.exec(relative)?.[0] ?? "";
  const stem = relative.slice(0, relative.length - extension.length);
  const written = /\.[cm]?[jt]sx?$/.exec(source.specifier)?.[0];
  if (!written) return /\/index$/.test(stem) && !/\/index$/.test(source.specifier) ? stem.slice(0, -"/index".length) : stem;
  if (/^\.[cm]?tsx?$/.test(written) && !extension.startsWith(".d.")) return relative;
  const js: Record<string, string> = { ".ts": ".js", ".tsx": ".js", ".mts": ".mjs", ".cts": ".cjs", ".d.ts": ".js", ".d.mts": ".mjs", ".d.cts": ".cjs" };
  return stem + (js[extension] ?? extension);
}
