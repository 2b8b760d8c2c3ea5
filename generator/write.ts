// Putting generated files on disk: only those whose content changed (so file watchers, bundlers
// and `tsc --watch` downstream see no spurious changes), and each atomically.
import fs from "node:fs";
import path from "node:path";
import type { GeneratedFile } from "./render.js";

export interface WriteResult {
  written: string[];
  unchanged: string[];
}

export function writeFiles(files: readonly GeneratedFile[]): WriteResult {
  const result: WriteResult = { written: [], unchanged: [] };
  for (const file of files) {
    if (readIfExists(file.path) === file.content) {
      result.unchanged.push(file.path);
      continue;
    }
    fs.mkdirSync(path.dirname(file.path), { recursive: true });
    // Write beside, then rename: a reader never sees half a file.
    const temporary = `${file.path}.${process.pid}.tmp`;
    fs.writeFileSync(temporary, file.content);
    fs.renameSync(temporary, file.path);
    result.written.push(file.path);
  }
  return result;
}

/** Files that are missing or differ from what would be generated. Writes nothing. */
export function staleFiles(files: readonly GeneratedFile[]): string[] {
  return files.filter((file) => readIfExists(file.path) !== file.content).map((file) => file.path);
}

function readIfExists(file: string): string | undefined {
  try {
    return fs.readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}
