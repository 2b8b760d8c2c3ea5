import type { Argv, CommandModule } from "yargs";
import type pg from "pg";
import { checkQueueOptions, queuePolicies } from "../runtime/config/resolve.js";
import { writeQueuePolicies } from "../runtime/client/queues.js";
import { loadDeclaration } from "./handlers-module.js";
import { migrationStatus, runMigrations } from "../runtime/index.js";
import { MIGRATIONS, renderMigration } from "../runtime/db/migrations/index.js";
import { connectionOptions, migrationLabel, resolveTarget, withDatabase, type ConnectionArgs } from "./connection.js";
import { EXIT } from "./errors.js";
import { note, out, progress } from "./output.js";
import { formatTable, formatTime } from "./table.js";

interface MigrateArgs extends ConnectionArgs {
  status?: boolean;
  dryRun?: boolean;
  client?: string;
}

export const migrateCommand: CommandModule<object, MigrateArgs> = {
  command: "migrate",
  describe: "Apply pending schema migrations",
  // The cast: yargs' types do not model the camelCase copy (dryRun) of a dashed flag.
  builder: (y: Argv) =>
    connectionOptions(y)
      .option("status", { type: "boolean", describe: "list applied and pending migrations; exit 1 when any is pending" })
      .option("dry-run", { type: "boolean", describe: "print the SQL of pending migrations without running it" })
      .option("client", { type: "string", describe: "the generated client whose queue policies to write (default: ./sidetrack/client.js|ts when present)" })
      .conflicts("status", "dry-run")
      .example("$0 migrate", "apply what is pending")
      .example("$0 migrate --status", "in CI: fail when the database is behind")
      .example("$0 migrate --dry-run > sidetrack.sql", "review or hand the SQL to your own migration tool") as unknown as Argv<MigrateArgs>,
  handler: async (args) => {
    const target = resolveTarget(args);
    await withDatabase(target, async (pool) => {
      const states = await migrationStatus({ pool, schema: target.schema });
      const pending = states.filter((s) => s.status === "pending");

      if (args.status) {
        out(`schema "${target.schema}" at ${target.display}`);
        out(formatTable(
          ["version", "name", "status", "applied at"],
          states.map((s) => [String(s.version).padStart(4, "0"), s.name, s.status, formatTime(s.appliedAt ?? null)]),
        ));
        if (pending.length > 0) {
          out(`${pending.length} pending migration${pending.length === 1 ? "" : "s"}: run \`sidetrack migrate${schemaFlag(target.schema)}\``);
          process.exitCode = EXIT.failure;
        } else {
          out("up to date");
        }
        return;
      }

      if (args.dryRun) {
        if (pending.length === 0) {
          out(`-- schema "${target.schema}" is up to date: nothing to apply`);
          return;
        }
        out(`-- sidetrack migrate --dry-run: ${pending.length} pending migration(s) for schema "${target.schema}"`);
        out(`-- sidetrack also records each one in "${target.schema}".migrations (version, name, checksum)`);
        for (const state of pending) {
          const migration = MIGRATIONS.find((m) => m.version === state.version)!;
          out(`\n-- ${migrationLabel(migration.version, migration.name)}`);
          out(renderMigration(migration, target.schema).trimEnd());
        }
        return;
      }

      if (pending.length === 0) {
        out(`schema "${target.schema}" is up to date: nothing to apply`);
        await writeDeclaredPolicies(pool, target.schema, args.client);
        return;
      }
      const labels = pending.map((p) => migrationLabel(p.version, p.name));
      progress(`applying ${pending.length} migration(s) to schema "${target.schema}" at ${target.display}: ${labels.join(", ")} …`);
      // runMigrations takes an advisory lock: a second `migrate` (or a starting worker) waits, then finds nothing to do.
      const result = await runMigrations({ pool, schema: target.schema });
      progress(`done`, true);
      for (const version of result.applied) {
        const migration = MIGRATIONS.find((m) => m.version === version)!;
        out(`applied ${migrationLabel(version, migration.name)}`);
      }
      if (result.applied.length === 0) note("another process applied them meanwhile");
      out(`schema "${target.schema}" is up to date`);
      await writeDeclaredPolicies(pool, target.schema, args.client);
    });
  },
};

/**
 * Writes the queue policies of the generated client (--client, or the one in the working
 * directory when it loads), as start() does, so limits change with the deploy that migrates.
 * Pause state is left alone. Without a client there is nothing declared to write.
 */
async function writeDeclaredPolicies(pool: pg.Pool, schema: string, client: string | undefined): Promise<void> {
  const loaded = client === undefined ? await loadDeclaration(undefined).catch(() => undefined) : await loadDeclaration(client);
  if (loaded === undefined || loaded.declaration.schema !== schema) return;
  const queues = loaded.declaration.queues;
  for (const [name, options] of Object.entries(queues)) checkQueueOptions(name, options);
  await writeQueuePolicies(pool, schema, queuePolicies(queues));
  out(`queue policies written from ${loaded.spec} (${Object.keys(queues).length} queue${Object.keys(queues).length === 1 ? "" : "s"})`);
}

function schemaFlag(schema: string): string {
  return schema === "sidetrack" ? "" : ` --schema ${schema}`;
}
