import yargs from "yargs";
import { generateCommand } from "./generate.js";
import { jobsCommand } from "./jobs.js";
import { migrateCommand } from "./migrate.js";
import { statusCommand } from "./status.js";
import { workerCommand } from "./worker.js";

/**
 * Runs the CLI and resolves to the exit code. Each command module sets
 * `process.exitCode` (or throws a CliError, printed as one line plus the fix).
 */
export async function main(argv: string[]): Promise<number> {
  const cli = yargs(argv)
    .scriptName("sidetrack")
    .command(generateCommand)
    .command(migrateCommand)
    .command(workerCommand)
    .command(statusCommand)
    .command(jobsCommand)
    .demandCommand(1, "name a command: generate, migrate, worker, status or jobs")
    .strict()
    .help()
    .alias("h", "help")
    .version(false)
    .fail((message, error, y) => {
      if (error) throw error;
      console.error(`${message}\n\nRun \`sidetrack --help\` for usage.`);
      process.exit(2);
      void y;
    });
  try {
    await cli.parseAsync();
    return typeof process.exitCode === "number" ? process.exitCode : 0;
  } catch (error) {
    console.error((error as Error).message ?? String(error));
    return 1;
  }
}
