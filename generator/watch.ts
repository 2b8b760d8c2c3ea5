// `sidetrack generate --watch`: regenerate when the declaration or a local file it imports is saved.
// One ts-morph project lives across runs and only changed files are re-read, which is what makes a
// regeneration much faster than a cold run. Broken input writes nothing, so the last good output stays.
import path from "node:path";
import type { FSWatcher } from "chokidar";
import { generate, resolveDeclarationPath, type GenerateOptions, type GenerateResult } from "./generate.js";
import { createDeclarationProject } from "./parse.js";

export interface WatchOptions extends Omit<GenerateOptions, "check" | "project"> {
  /** Quiet period after the last change before regenerating. Default 100 ms. */
  debounceMs?: number;
  /** Called after every run, the first one included. `ms` is the run's duration. */
  onResult(result: GenerateResult, ms: number): void;
  onError?(error: unknown): void;
}

export interface Watcher {
  /** Resolves once the first run is done and the files are being watched. */
  ready: Promise<void>;
  close(): Promise<void>;
}

export function watchDeclaration(options: WatchOptions): Watcher {
  const cwd = options.cwd ?? process.cwd();
  const declaration = resolveDeclarationPath(options.queues, cwd);
  const project = createDeclarationProject(declaration);
  const changed = new Set<string>();
  let watched = new Set<string>();
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;

  const run = () => {
    for (const file of changed) {
      // A changed file is re-read; a deleted one is dropped from the project.
      project.getSourceFile(file)?.refreshFromFileSystemSync();
    }
    changed.clear();
    const started = performance.now();
    try {
      const result = generate({ ...options, queues: declaration, cwd, project });
      options.onResult(result, performance.now() - started);
      follow(result.localFiles.length > 0 ? result.localFiles : [declaration]);
    } catch (error) {
      (options.onError ?? ((e) => console.error(e)))(error);
    }
  };

  /**
   * Follow exactly the files the declaration now imports. chokidar watches their folders (not the
   * files): folder watches also see editors' save-by-rename, and a file watch added while running
   * was seen to miss a save that came right after it.
   */
  const follow = (files: string[]) => {
    watched = new Set([declaration, ...files.map((f) => path.normalize(f))]);
    const folders = [...new Set([...watched].map((f) => path.dirname(f)))];
    const added = folders.filter((d) => !folderSet.has(d));
    for (const folder of added) folderSet.add(folder);
    if (watcher && added.length > 0) watcher.add(added);
  };
  const folderSet = new Set<string>();

  const onChange = (file: string) => {
    const absolute = path.normalize(path.resolve(cwd, file));
    if (!watched.has(absolute)) return;
    changed.add(absolute);
    clearTimeout(timer);
    timer = setTimeout(run, options.debounceMs ?? 100);
  };

  // The first run happens before the watcher starts, so it starts on every file at once: files
  // added to a running chokidar watcher take a moment to be watched, and a save then could be missed.
  watched = new Set([declaration]);
  run();
  for (const file of watched) folderSet.add(path.dirname(file));
  // chokidar is an optional peer dependency (only --watch needs it), so it loads here, not at import.
  let closed = false;
  const ready = import("chokidar").then(({ watch }) => {
    if (closed) return;
    watcher = watch([...folderSet], { ignoreInitial: true, depth: 0 });
    watcher.on("add", onChange).on("change", onChange).on("unlink", onChange).on("error", (e) => options.onError?.(e));
    return new Promise<void>((resolve) => watcher!.once("ready", () => resolve()));
  });

  return {
    ready,
    async close() {
      closed = true;
      clearTimeout(timer);
      await ready.catch(() => undefined);
      await watcher?.close();
    },
  };
}
