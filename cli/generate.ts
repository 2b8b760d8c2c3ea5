import path from "node:path";
import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import { CliError } from "./errors.js";

interface GenerateArgs {
  queues?: string;
  out?: string;
  watch: boolean;
  check: boolean;
  format: "sql" | "prisma";
  schema?: string;
}

/**
 * ts-morph (which bundles TypeScript) and chokidar are optional peer dependencies: only this
 * command needs them, so an application's production install carries no compiler. Checked before
 * the generator loads, so a missing one is named with the install command instead of surfacing
 * as a module-resolution stack trace.
 */
async function requireDevDependency(name: "ts-morph" | "chokidar", command: string): Promise<void> {
  try {
    await import(name);
  } catch (error) {
    const e = error as { code?: string; message?: string };
    const missing = (e.code === "ERR_MODULE_NOT_FOUND" || e.code === "MODULE_NOT_FOUND") && e.message?.includes(`'${name}'`);
    if (!missing) throw error;
    throw new CliError(`${command} needs ${name}: npm install --save-dev ${name}`, `install it in the project that holds sidetrack.queues.ts`);
  }
}

/**
 * `sidetrack generate`: the declaration → typed client, validators and migration SQL.
 * The generator (and with it the TypeScript compiler) is imported only when this command runs.
 */
export const generateCommand: CommandModule<object, GenerateArgs> = {
  command: "generate",
  describe: "Generate the typed client and migration SQL from sidetrack.queues.ts",
  builder: (yargs: Argv) =>
    yargs
      .option("queues", { type: "string", describe: "the queue declaration (default: ./sidetrack.queues.ts)" })
      .option("out", { type: "string", describe: "output folder (default: sidetrack/ beside the declaration)" })
      .option("watch", { type: "boolean", default: false, describe: "regenerate whenever the declaration or a file it imports changes" })
      .option("check", { type: "boolean", default: false, describe: "write nothing; exit 1 and list the files that are out of date" })
      .option("format", { choices: ["sql", "prisma"] as const, default: "sql" as const, describe: "migrations as plain SQL or as Prisma Migrate folders" })
      .option("schema", { type: "string", describe: "PostgreSQL schema of Sidetrack's tables (default: sidetrack)" })
      // Not .conflicts(): yargs counts the false defaults as given.
      .check((argv) => {
        if (argv.watch && argv.check) throw new Error("--watch and --check cannot be combined");
        return true;
      }) as unknown as Argv<GenerateArgs>,
  handler: async (args: ArgumentsCamelCase<GenerateArgs>) => {
    await requireDevDependency("ts-morph", "sidetrack generate");
    if (args.watch) await requireDevDependency("chokidar", "sidetrack generate --watch");
    const generator = await import("../generator/index.js");
    const options = { queues: args.queues, out: args.out, format: args.format, schema: args.schema };
    const cwd = process.cwd();
    const show = (file: string) => path.relative(cwd, file) || file;

    const report = (result: import("../generator/index.js").GenerateResult, ms?: number): boolean => {
      if (result.diagnostics.length > 0) {
        for (const d of result.diagnostics) console.error(generator.formatDiagnostic(d, cwd));
        const count = result.diagnostics.length;
        console.error(`sidetrack generate: ${count} problem${count === 1 ? "" : "s"} in ${show(result.declaration)}; nothing was written`);
        return false;
      }
      if (args.check) {
        if (result.stale.length === 0) {
          console.log(`sidetrack generate --check: ${result.files.length} generated files are up to date`);
          return true;
        }
        console.error(`sidetrack generate --check: ${result.stale.length} generated file${result.stale.length === 1 ? " is" : "s are"} out of date:`);
        for (const file of result.stale) console.error(`  ${show(file)}`);
        console.error("Run `npx sidetrack generate` and commit the result.");
        return false;
      }
      const took = ms === undefined ? "" : ` in ${Math.round(ms)} ms`;
      console.log(
        `sidetrack generate: ${result.written.length} written, ${result.unchanged.length} unchanged in ${show(result.outDir)}${took}`,
      );
      for (const file of result.written) console.log(`  wrote ${show(file)}`);
      return true;
    };

    if (!args.watch) {
      const started = performance.now();
      const ok = report(generator.generate({ ...options, check: args.check, cwd }), performance.now() - started);
      if (!ok) process.exitCode = 1;
      return;
    }

    const watcher = generator.watchDeclaration({
      ...options,
      cwd,
      onResult: (result, ms) => {
        if (report(result, ms)) console.log("sidetrack generate --watch: watching for changes (Ctrl-C to stop)");
        else console.error("sidetrack generate --watch: kept the last good output; fix the problem and save again");
      },
      onError: (error) => console.error(`sidetrack generate --watch: ${(error as Error).message ?? String(error)}`),
    });
    await watcher.ready;
    // Runs until interrupted; close the watcher so the process can exit cleanly.
    await new Promise<void>((resolve) => {
      const stop = () => void watcher.close().then(resolve);
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
    });
  },
};
