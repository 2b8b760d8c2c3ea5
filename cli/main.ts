import { readFileSync } from "node:fs";
import yargs from "yargs";
import { cronCommand } from "./cron.js";
import { dashboardCommand } from "./dashboard.js";
import { queuesCommand } from "./queues-command.js";
import { generateCommand } from "./generate.js";
import { EXIT, formatCliError, GENERIC_USAGE_FIX, toCliError, UsageError } from "./errors.js";
import { jobsCommand } from "./jobs.js";
import { migrateCommand } from "./migrate.js";
import { endQuietlyWhenStdoutCloses, note } from "./output.js";
import { registerConnectionSecrets } from "./redact.js";
import { statusCommand } from "./status.js";
import { workerCommand } from "./worker.js";
import { workersCommand } from "./workers.js";

const EXIT_CODES = `Exit codes: 0 ok · 1 failure (or pending migrations with migrate --status) · 2 usage error`;

/**
 * Runs the CLI and resolves to the exit code. Each command module sets
 * `process.exitCode` (or throws a CliError, printed as one line plus the fix).
 */
export async function main(argv: string[]): Promise<number> {
  endQuietlyWhenStdoutCloses();
  // Known before parsing, so even a usage error quoting the command line is redacted.
  registerConnectionSecrets(process.env.DATABASE_URL);
  argv.forEach((arg, i) => {
    for (const flag of ["--database-url", "--listen-url"]) {
      if (arg.startsWith(`${flag}=`)) registerConnectionSecrets(arg.slice(flag.length + 1));
      else if (arg === flag) registerConnectionSecrets(argv[i + 1]);
    }
  });

  const cli = yargs(argv)
    .scriptName("sidetrack")
    .command(generateCommand)
    .command(migrateCommand)
    .command(workerCommand)
    .command(workersCommand)
    .command(statusCommand)
    .command(jobsCommand)
    .command(cronCommand)
    .command(queuesCommand)
    .command(dashboardCommand)
    .demandCommand(1, "name a command: generate, migrate, worker, workers, status, jobs, cron, queues or dashboard")
    .recommendCommands()
    .strict()
    .help()
    .alias("h", "help")
    .version(packageVersion())
    .wrap(Math.min(110, process.stdout.columns || 100))
    .epilogue(EXIT_CODES)
    // Validation failures (unknown flag, bad choice, missing argument) become usage errors;
    // errors thrown by a command pass through unchanged.
    .fail((message, error) => {
      if (error) throw error;
      let text = message.replace(/\s*\n\s*/g, " ");
      // recommendCommands() reports an unknown command only as "Did you mean …?".
      if (text.startsWith("Did you mean")) text = `unknown command "${unknownCommandWord(argv)}". ${text}`;
      text = text.replace(/^Unknown arguments?: (.*)$/, (_, list: string) => unknownArguments(list.split(", "), argv));
      text = readableUsage(text, argv);
      throw new UsageError(text, `see \`sidetrack ${commandPath(argv)}--help\``);
    });
  try {
    await cli.parseAsync();
    return typeof process.exitCode === "number" ? process.exitCode : EXIT.ok;
  } catch (error) {
    let cliError = toCliError(error);
    // Usage errors thrown by a command point at that command's help.
    if (cliError instanceof UsageError && cliError.fix === GENERIC_USAGE_FIX) {
      cliError = new UsageError(cliError.message, `see \`sidetrack ${commandPath(argv)}--help\``);
    }
    note(formatCliError(cliError));
    return cliError.exitCode;
  }
}

/**
 * The version in Sidetrack's own package.json: one folder up from cli/main.ts when run from
 * source, two from dist/cli/main.js when installed.
 */
function packageVersion(): string {
  for (const relative of ["../package.json", "../../package.json"]) {
    try {
      const manifest = JSON.parse(readFileSync(new URL(relative, import.meta.url), "utf8")) as { name?: string; version?: string };
      if (manifest.name === "sidetrack" && manifest.version) return manifest.version;
    } catch {
      // not this folder
    }
  }
  return "unknown";
}

const COMMANDS = ["generate", "migrate", "worker", "workers", "status", "jobs", "cron", "queues", "dashboard"];
const JOBS_COMMANDS = ["list", "show", "retry", "cancel"];
const CRON_COMMANDS = ["list", "activate", "deactivate", "run-now"];
const QUEUES_COMMANDS = ["list", "pause", "resume"];
const SUBCOMMANDS: Record<string, string[]> = { jobs: JOBS_COMMANDS, cron: CRON_COMMANDS, queues: QUEUES_COMMANDS };

/** "jobs retry " for `sidetrack jobs retry 12 --bogus`: the command whose help fits the error. */
function commandPath(argv: string[]): string {
  const [first, second] = argv.filter((a) => !a.startsWith("-"));
  if (!first || !COMMANDS.includes(first)) return "";
  if (second && SUBCOMMANDS[first]?.includes(second)) return `${first} ${second} `;
  return `${first} `;
}

/** yargs' own wording for a missing or extra argument, said in the CLI's terms. */
function readableUsage(text: string, argv: string[]): string {
  const path = commandPath(argv).trim();
  const positional = POSITIONALS[path];
  if (/^Not enough non-option arguments/.test(text)) {
    return positional ? `missing ${positional}: sidetrack ${path} ${positional}` : `missing argument: see sidetrack ${path} --help`;
  }
  if (/^Too many non-option arguments/.test(text)) return `too many arguments for sidetrack ${path}`.trimEnd();
  const required = /^Missing required arguments?: (.*)$/.exec(text);
  if (required) {
    const names = required[1]!.split(", ").map((n) => `--${n}`);
    return `missing required option${names.length > 1 ? "s" : ""} ${names.join(", ")}`;
  }
  return text;
}

/** The positional argument each command needs, as its usage names it. */
const POSITIONALS: Record<string, string> = {
  "jobs show": "<id>",
  "jobs cancel": "<id>",
  "cron activate": "<queue>",
  "cron deactivate": "<queue>",
  "cron run-now": "<queue>",
  "queues pause": "<queue>",
  "queues resume": "<queue>",
};

/** The word yargs could not match: the first one, or the sub-command after a known command. */
function unknownCommandWord(argv: string[]): string | undefined {
  const [first, second] = argv.filter((a) => !a.startsWith("-"));
  const subcommands = SUBCOMMANDS[first ?? ""];
  return first && COMMANDS.includes(first) && subcommands && second !== undefined && !subcommands.includes(second) ? second : first;
}

/** yargs lists an unknown --queue-name twice (queue-name, queueName): name each once, as typed. */
function unknownArguments(names: string[], argv: string[]): string {
  const camel = (name: string) => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
  const typed = names
    .filter((name) => !names.some((other) => other !== name && other.includes("-") && camel(other) === name))
    .map((name) => (argv.includes(`--${name}`) || argv.some((a) => a.startsWith(`--${name}=`)) ? `--${name}` : argv.includes(`-${name}`) ? `-${name}` : name));
  return `unknown ${typed.every((t) => t.startsWith("-")) ? "option" : "argument"}${typed.length > 1 ? "s" : ""}: ${typed.join(", ")}`;
}
