// DeclarationModel → the generated files (contents only; nothing touches the disk here).
import path from "node:path";
import { renderClient } from "../templates/client.js";
import { prismaMigrationFiles, sqlMigrationFiles } from "../templates/migrations.js";
import type { DeclarationModel } from "./model.js";

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
    queues: model.queues.map((q) => ({ ...q, options: q.options as Record<string, unknown> })),
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
