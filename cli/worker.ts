import type { Argv, CommandModule } from "yargs";
import { Sidetrack, type Handler, type Job, type Logger, type QueueOptions } from "../runtime/index.js";
import { resolveTarget, connectionOptions, type ConnectionArgs } from "./connection.js";
import { CONCURRENCY_DEFAULT, SHUTDOWN_GRACE_DEFAULT_MS } from "../runtime/config/defaults.js";
import { EXIT, toCliError, UsageError } from "./errors.js";
import { durationFlag, positiveInteger } from "./flags.js";
import { loadDeclaration, loadHandlers, type Declaration, type QueueConfig } from "./handlers-module.js";
import { note, out } from "./output.js";
import { untilSignal } from "./signals.js";

interface WorkerArgs extends ConnectionArgs {
  handlers: string;
  client?: string;
  concurrency?: number;
  queues?: string;
  shutdownGrace?: string;
  verbose?: boolean;
  migrate: boolean;
  listenUrl?: string;
  pollOnly?: boolean;
  preparedStatements: boolean;
}

export const workerCommand: CommandModule<object, WorkerArgs> = {
  command: "worker",
  describe: "Run a worker for the handlers a module exports, until SIGTERM or Ctrl-C",
  // The cast: yargs' types do not model the camelCase copy of a dashed flag.
  builder: (y: Argv) =>
    connectionOptions(y)
      .option("handlers", { type: "string", demandOption: true, describe: "module exporting { queueName: handler } (default export or `handlers`)" })
      .option("client", { type: "string", describe: "the generated client whose declared queue options and cron schedules to run with (default: ./sidetrack/client.js or .ts when present)" })
      .option("concurrency", { type: "number", describe: "jobs run at once by this process (default 10)" })
      .option("queues", { type: "string", describe: "only these queues, comma-separated (default: every queue with a handler)" })
      .option("shutdown-grace", { type: "string", describe: 'on SIGTERM, how long running jobs may finish, e.g. "30s" (default 10s)' })
      .option("verbose", { type: "boolean", describe: "log every job and the engine's debug messages" })
      .option("listen-url", { type: "string", describe: "a direct connection for LISTEN and liveness when --database-url goes through a transaction pooler (PgBouncer, RDS Proxy, Supavisor)" })
      .option("poll-only", { type: "boolean", describe: "no long-lived connection: poll for jobs; a dead worker's jobs are rescued after ~10 s instead of ~1.5 s" })
      .option("prepared-statements", { type: "boolean", default: true, describe: "--no-prepared-statements behind PgBouncer < 1.21 in transaction mode" })
      .option("migrate", { type: "boolean", default: true, describe: "apply pending migrations at start; --no-migrate only checks (your own tool applies them)" })
      .example("$0 worker --handlers ./dist/handlers.js --concurrency 20", "")
      // No description: beside one, yargs splits this long command across two lines.
      .example("node --import tsx node_modules/.bin/sidetrack worker --handlers ./src/handlers.ts", "")
      .epilogue("Pending migrations are applied at start (--no-migrate: checked only). SIGTERM/SIGINT: stop fetching, let running jobs finish within the grace period, exit 0; a second signal exits at once. TypeScript handlers: run the CLI under your loader, as in the second example.") as unknown as Argv<WorkerArgs>,
  handler: async (args) => {
    if (args.pollOnly && args.listenUrl !== undefined) throw new UsageError("--poll-only and --listen-url cannot be used together", "pick one: --listen-url gives LISTEN and fast rescue over a direct connection");
    const concurrency = args.concurrency === undefined ? undefined : positiveInteger(args.concurrency, "--concurrency");
    const shutdownGrace = args.shutdownGrace === undefined ? undefined : durationFlag(args.shutdownGrace, "--shutdown-grace");
    const target = resolveTarget(args);
    const handlers = await loadHandlers(args.handlers);
    const loaded = await loadDeclaration(args.client);
    const queues = loaded ? withDeclaration(handlers, loaded.declaration, args.handlers, loaded.spec) : handlers;
    if (loaded && loaded.declaration.schema !== target.schema) {
      throw new UsageError(
        `${loaded.spec} was generated for schema "${loaded.declaration.schema}", but this worker targets schema "${target.schema}"`,
        `pass --schema ${loaded.declaration.schema}, or regenerate the client for "${target.schema}"`,
      );
    }
    const available = Object.keys(handlers);
    const onlyQueues = args.queues === undefined ? undefined : selectQueues(args.queues, available, args.handlers);

    const sidetrack = new Sidetrack<Record<string, unknown>>({
      databaseOptions: { connectionString: target.connectionString },
      schema: target.schema,
      queues,
      // Only an instance holding the whole declaration may delete declared schedules it lacks.
      pruneDeclaredSchedules: loaded !== undefined,
      migrate: args.migrate,
      concurrency,
      onlyQueues,
      shutdownGrace,
      listenConnectionString: args.listenUrl,
      listen: args.pollOnly === true ? false : undefined,
      preparedStatements: args.preparedStatements,
      // This command owns the process: it handles the signals and reports the outcome itself.
      handleSignals: false,
      logger: cliLogger(args.verbose === true),
    });
    if (args.verbose) logJobs(sidetrack);

    // Listening before start(), so a SIGTERM that arrives while starting still stops cleanly.
    const stop = untilSignal((signal) => {
      note(`${signal} again: exiting now; jobs still running are rescued by another worker once their lease expires`);
      process.exit(EXIT.failure);
    });
    try {
      await sidetrack.start();
    } catch (error) {
      stop.dispose();
      await sidetrack.close().catch(() => undefined);
      throw toCliError(error, target.endpoint, target.schema);
    }
    if (!loaded) {
      note(
        `warning: no generated client (--client, or ./sidetrack/client.js): running without the declaration's queue options; ` +
          `declared cron schedules it does not know are left alone`,
      );
    }
    // A queue's own limit shows beside it, so the declaration's options are visibly in force.
    const running = (onlyQueues ?? available).map((q) => {
      const limit = queues[q]?.concurrency;
      return limit === undefined ? q : `${q} (concurrency ${limit})`;
    });
    const mode = args.pollOnly ? " · poll-only (rescue after ~10 s if this worker dies)" : args.listenUrl !== undefined ? " · LISTEN over --listen-url" : "";
    out(`worker started: queues ${running.join(", ")} · concurrency ${concurrency ?? CONCURRENCY_DEFAULT} · schema "${target.schema}" · ${target.display}${mode}`);

    const signal = await stop.promise;
    out(`${signal}: stopping; no new jobs, running jobs get ${args.shutdownGrace ?? `${SHUTDOWN_GRACE_DEFAULT_MS / 1000}s`} to finish (signal again to exit at once)`);
    await sidetrack.stop();
    stop.dispose();
    out("worker stopped");
    // The handlers module may hold timers or connections of its own that would keep Node alive:
    // the worker is done, so the process ends here.
    process.exit(EXIT.ok);
  },
};

/**
 * Every declared queue with its declared options, plus the handler the module gives it. A handler
 * for a queue the declaration lacks is refused: the client is out of date or the wrong one.
 */
function withDeclaration(
  handlers: Record<string, QueueConfig>,
  declaration: Declaration,
  handlersSpec: string,
  clientSpec: string,
): Record<string, QueueOptions<unknown> & { handler?: Handler<unknown> }> {
  const declared = Object.keys(declaration.queues);
  for (const name of Object.keys(handlers)) {
    if (!Object.hasOwn(declaration.queues, name)) {
      throw new UsageError(
        `${handlersSpec} has a handler for "${name}", which ${clientSpec} does not declare`,
        `declared queues: ${declared.join(", ")}; regenerate the client (npx sidetrack generate) or pass the right one with --client`,
      );
    }
  }
  const queues: Record<string, QueueOptions<unknown> & { handler?: Handler<unknown> }> = {};
  for (const name of declared) {
    const { handler, ...own } = handlers[name] ?? {};
    // The declaration's options win over a `{ handler, ...options }` entry only where both set one.
    queues[name] = { ...own, ...declaration.queues[name], ...(handler ? { handler } : {}) };
  }
  return queues;
}

function selectQueues(list: string, available: string[], spec: string): string[] {
  const names = list.split(",").map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new UsageError("--queues is empty", `name one or more of: ${available.join(", ")}`);
  for (const name of names) {
    if (!available.includes(name)) {
      throw new UsageError(`--queues: unknown queue "${name}": ${spec} has no handler for it`, `queues with handlers: ${available.join(", ")}`);
    }
  }
  return names;
}

/** Engine logs on stderr, one line each, redacted like all output. Debug only with --verbose. */
function cliLogger(verbose: boolean): Logger {
  const line = (level: string) => (message: string, meta?: Record<string, unknown>) =>
    note(`${new Date().toISOString()} ${level} ${message}${meta ? ` ${JSON.stringify(meta, errorsAsMessages)}` : ""}`);
  return { debug: verbose ? line("debug") : () => undefined, info: line("info"), warn: line("warn"), error: line("error") };
}

function errorsAsMessages(_key: string, value: unknown): unknown {
  return value instanceof Error ? value.message : value;
}

/** With --verbose, one line per job outcome. */
function logJobs(sidetrack: Sidetrack<Record<string, unknown>>): void {
  const job = (j: Job) => `job ${j.id} (${j.queue}, attempt ${j.attempt})`;
  const reason = (e: unknown) => (e instanceof Error ? e.message : String(e));
  const at = () => new Date().toISOString();
  sidetrack.on("job:completed", (j) => note(`${at()} info ${job(j)} completed`));
  sidetrack.on("job:retrying", (j, e) => note(`${at()} warn ${job(j)} failed, will retry: ${reason(e)}`));
  sidetrack.on("job:failed", (j, e) => note(`${at()} error ${job(j)} failed for good: ${reason(e)}`));
  sidetrack.on("job:cancelled", (j) => note(`${at()} info ${job(j)} cancelled`));
}
