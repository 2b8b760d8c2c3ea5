import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "../../scripts/embedded-postgres.js";
import { classifyDatabaseError } from "../../cli/errors.js";
import { displayUrl, redact, registerConnectionSecrets } from "../../cli/redact.js";
import { createTestDatabase, withDatabase, type TestDatabase } from "../support/database.js";
import { runCli } from "./run-cli.js";

const SECRET = "s3cret-Pa55word";
const unreachable = `postgres://sidetrack:${SECRET}@127.0.0.1:1/app`;

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase("cli_errors");
});

/** Every command that connects, with the arguments it needs. */
const CONNECTING_COMMANDS = [
  ["migrate"],
  ["migrate", "--status"],
  ["status"],
  ["workers"],
  ["jobs", "list"],
  ["jobs", "show", "1"],
  ["jobs", "retry", "1"],
  ["jobs", "cancel", "1"],
  ["worker", "--handlers", "test/cli/fixtures/handlers.mjs"],
];

describe("PostgreSQL unreachable", () => {
  it.each(CONNECTING_COMMANDS.map((args) => ({ command: args.join(" "), args })))("$command: one line with host and port, the fix, exit 1, no password", async ({ args }) => {
    const r = await runCli(args, { databaseUrl: unreachable });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "error: cannot connect to PostgreSQL at 127.0.0.1:1: connection refused (ECONNREFUSED)\n" +
        "fix:   check that PostgreSQL is running and reachable there, or pass the right --database-url (or DATABASE_URL)\n",
    );
    expect(r.stdout + r.stderr).not.toContain(SECRET);
  });

  it("also from --database-url", async () => {
    const r = await runCli(["status", "--database-url", unreachable]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("127.0.0.1:1: connection refused");
    expect(r.stdout + r.stderr).not.toContain(SECRET);
  });
});

describe("authentication failed", () => {
  // The suite's server trusts 127.0.0.1, so a wrong password cannot fail there. A throwaway
  // embedded PostgreSQL with password authentication makes the failure real.
  let secured: EmbeddedDatabase;
  beforeAll(async () => {
    secured = await startEmbeddedPostgres();
  });
  afterAll(() => secured?.stop());

  it("a wrong password: one line naming user, host and port; neither password is printed", async () => {
    const right = new URL(secured.url);
    const wrong = new URL(secured.url);
    wrong.password = SECRET;
    const r = await runCli(["migrate", "--status"], { databaseUrl: wrong.toString() });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      `error: PostgreSQL at 127.0.0.1:${secured.port} refused user "postgres": authentication failed ` +
        `(28P01: password authentication failed for user "postgres")\n` +
        "fix:   check the user name and password in --database-url (or DATABASE_URL), and pg_hba.conf on the server\n",
    );
    expect(r.stdout + r.stderr).not.toContain(SECRET);
    expect(r.stdout + r.stderr).not.toContain(decodeURIComponent(right.password));
  });

  it("with the right password it works and still prints no password", async () => {
    const r = await runCli(["migrate", "--status"], { databaseUrl: secured.url });
    expect(r.code).toBe(1); // pending: this server was never migrated
    expect(r.stdout).toContain(`schema "sidetrack" at postgres://postgres:***@127.0.0.1:${secured.port}/postgres`);
    expect(r.stdout + r.stderr).not.toContain(decodeURIComponent(new URL(secured.url).password));
  });

  it("a role that does not exist is an authentication error too", async () => {
    const url = new URL(db.url);
    url.username = "no_such_role";
    const r = await runCli(["status"], { databaseUrl: url.toString() });
    expect(r.code).toBe(1);
    // A trust server says the role does not exist (28000); one that asks for a password does not
    // reveal that, and fails the password instead (28P01). The suite runs against either.
    expect(r.stderr).toMatch(
      /^error: PostgreSQL at .* refused user "no_such_role": authentication failed \((28000: role "no_such_role" does not exist|28P01: password authentication failed for user "no_such_role")\)\n/,
    );
  });
});

describe("other connection errors", () => {
  it("a database that does not exist", async () => {
    const r = await runCli(["status"], { databaseUrl: withDatabase(db.url, "st_no_such_db") });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error: database "st_no_such_db" does not exist on .*\nfix:   create it \(createdb st_no_such_db\)/);
  });

  it("no database at all is a usage error", async () => {
    const r = await runCli(["status"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      "error: no database given\nfix:   pass --database-url postgres://USER:PASSWORD@HOST:5432/DATABASE, or set DATABASE_URL\n",
    );
  });

  it("a malformed URL is a usage error that does not echo it", async () => {
    const r = await runCli(["status", "--database-url", `postgres://u:${SECRET}@host:notaport/db`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error: the database URL is not a valid connection string");
    expect(r.stdout + r.stderr).not.toContain(SECRET);
  });
});

describe("usage", () => {
  it("an unknown flag or command exits 2 with the command's help to read", async () => {
    const flag = await runCli(["jobs", "list", "--queue-name", "x"]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toBe("error: unknown option: --queue-name\nfix:   see `sidetrack jobs list --help`\n");
    const extra = await runCli(["status", "now"]);
    expect(extra.code).toBe(2);
    expect(extra.stderr).toContain("error: unknown argument: now");
    const command = await runCli(["stauts"]);
    expect(command.code).toBe(2);
    expect(command.stderr).toContain('error: unknown command "stauts". Did you mean status?');
    const none = await runCli([]);
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("error: name a command: generate, migrate, worker, workers, status, jobs, cron, queues or dashboard");
  });

  it("a typo in a sub-command names that word and suggests the sub-command", async () => {
    const r = await runCli(["jobs", "lst"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('error: unknown command "lst". Did you mean list?\nfix:   see `sidetrack jobs --help`\n');
  });

  it("a missing argument or option is said in the CLI's terms, not yargs'", async () => {
    const show = await runCli(["jobs", "show"]);
    expect(show.code).toBe(2);
    expect(show.stderr).toBe("error: missing <id>: sidetrack jobs show <id>\nfix:   see `sidetrack jobs show --help`\n");
    const worker = await runCli(["worker"]);
    expect(worker.code).toBe(2);
    expect(worker.stderr).toBe("error: missing required option --handlers\nfix:   see `sidetrack worker --help`\n");
  });

  const helpCases = [[], ["migrate"], ["worker"], ["status"], ["jobs"], ["jobs", "list"], ["jobs", "show"], ["jobs", "retry"], ["jobs", "cancel"], ["cron"], ["cron", "list"], ["cron", "run-now"]];
  it.each(helpCases.map((command) => ({ name: ["sidetrack", ...command].join(" "), command })))(
    "$name --help exits 0 with usage",
    async ({ command }) => {
      const r = await runCli([...command, "--help"]);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`sidetrack ${command.join(" ")}`.trim());
      expect(r.stdout).toContain("Options:");
      expect(r.stderr).toBe("");
    },
  );
});

describe("error classification and redaction (units)", () => {
  const endpoint = { host: "db.internal", port: 5432, database: "app", user: "worker" };

  it("maps SQLSTATEs and network codes", () => {
    expect(classifyDatabaseError({ code: "28P01", message: "password authentication failed" }, endpoint)?.message).toContain(
      'refused user "worker": authentication failed',
    );
    expect(classifyDatabaseError({ code: "42P01", message: 'relation "x" does not exist' }, endpoint, "jobs_schema")?.fix).toBe(
      "run `sidetrack migrate --schema jobs_schema`",
    );
    expect(classifyDatabaseError({ code: "ENOTFOUND", hostname: "db.internal" }, endpoint)?.message).toBe(
      "cannot connect to PostgreSQL at db.internal:5432: host not found (ENOTFOUND)",
    );
    const aggregate = { errors: [{ code: "ECONNREFUSED", address: "::1", port: 5432 }] };
    expect(classifyDatabaseError(aggregate, endpoint)?.message).toContain("at ::1:5432: connection refused");
    expect(classifyDatabaseError(new Error("SASL: SCRAM-SERVER-FIRST-MESSAGE: client password must be a string"), endpoint)?.fix).toContain(
      "PGPASSWORD",
    );
    expect(classifyDatabaseError(new Error("something else"), endpoint)).toBeUndefined();
  });

  it("redacts passwords wherever they appear", () => {
    registerConnectionSecrets("postgres://u:p%40ss-word@h/db");
    expect(redact("failed: postgres://u:p%40ss-word@h/db and p@ss-word")).toBe("failed: postgres://u:***@h/db and ***");
    expect(redact("postgres://other:unknown@h/db?password=abc")).toBe("postgres://other:***@h/db?password=***");
    expect(redact("postgres://postgres@127.0.0.1:5432/test")).toBe("postgres://postgres@127.0.0.1:5432/test");
    expect(displayUrl("postgres://u:secret@h:5432/db")).toBe("postgres://u:***@h:5432/db");
  });
});
