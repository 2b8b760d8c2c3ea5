// The programmatic API reports an unreachable server and a missing schema as Sidetrack errors
// with the same facts the CLI prints, never as raw driver errors, and never with the password.
import { describe, expect, it } from "vitest";
import { runMigrations, Sidetrack, SidetrackConnectionError, SidetrackMigrationError } from "../runtime/index.js";
import { createTestDatabase } from "./support/database.js";

// Port 1 on loopback: nothing listens there, so the connection is refused at once.
const unreachable = "postgres://app:s3cret@127.0.0.1:1/app";

function instance(connectionString: string) {
  return new Sidetrack<{ mail: { to: string } }>({
    databaseOptions: { connectionString },
    handleSignals: false,
    queues: { mail: { handler: async () => undefined } },
  });
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (error: Error) => error,
  );
}

describe("programmatic errors", () => {
  it("start() against an unreachable server: SidetrackConnectionError with host, port and cause, no password", async () => {
    const sidetrack = instance(unreachable);
    const error = await rejection(sidetrack.start());
    await sidetrack.close();
    expect(error).toBeInstanceOf(SidetrackConnectionError);
    const e = error as SidetrackConnectionError;
    expect(e.message).toBe("cannot connect to PostgreSQL at 127.0.0.1:1: connection refused (ECONNREFUSED)");
    expect([e.host, e.port]).toEqual(["127.0.0.1", 1]);
    expect((e.cause as NodeJS.ErrnoException).code).toBe("ECONNREFUSED");
    expect(JSON.stringify({ message: e.message, host: e.host })).not.toContain("s3cret");
  });

  it("runMigrations({ connectionString }) against an unreachable server: the same", async () => {
    const error = await rejection(runMigrations({ connectionString: unreachable }));
    expect(error).toBeInstanceOf(SidetrackConnectionError);
    expect(error.message).toBe("cannot connect to PostgreSQL at 127.0.0.1:1: connection refused (ECONNREFUSED)");
  });

  it("insertJob before migrating says how to migrate", async () => {
    const db = await createTestDatabase("api_unmigrated");
    const sidetrack = instance(db.url);
    const error = await rejection(sidetrack.insertJob("mail", { to: "a@example.com" }));
    await sidetrack.close();
    expect(error).toBeInstanceOf(SidetrackMigrationError);
    expect(error.message).toBe('schema "sidetrack" is not migrated: run `npx sidetrack migrate` or call start()');
    expect((error.cause as { code?: string }).code).toBe("42P01");
  });
});
