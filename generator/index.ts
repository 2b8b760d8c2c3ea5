// The generator: sidetrack.queues.ts → model (ts-morph) → files (templates/) → write / check / watch.
// Loaded only by `sidetrack generate` (dynamically), so nothing else pulls in the compiler.
export { generate, resolveDeclarationPath } from "./generate.js";
export type { GenerateOptions, GenerateResult } from "./generate.js";
export { watchDeclaration } from "./watch.js";
export type { WatchOptions, Watcher } from "./watch.js";
export { parseDeclaration, createDeclarationProject } from "./parse.js";
export type { ParseResult } from "./parse.js";
export { renderFiles } from "./render.js";
export type { GeneratedFile, MigrationFormat, RenderOptions } from "./render.js";
export { writeFiles, staleFiles } from "./write.js";
export { formatDiagnostic } from "./diagnostics.js";
export type { Diagnostic } from "./diagnostics.js";
export type { DeclarationModel, QueueModel } from "./model.js";
