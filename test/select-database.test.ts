import { describe, expect, it } from "vitest";
import { redactUrl, selectDatabase } from "./support/select-database.js";

describe("selectDatabase", () => {
  it("uses DATABASE_URL when set, without asking Docker", async () => {
    let asked = false;
    const source = await selectDatabase({
      databaseUrl: "postgres://u:p@db:5432/x",
      dockerAnswers: async () => ((asked = true), true),
    });
    expect(source).toEqual({ kind: "env", url: "postgres://u:p@db:5432/x" });
    expect(asked).toBe(false);
  });

  it("uses Docker when DATABASE_URL is unset or blank and an engine answers", async () => {
    expect(await selectDatabase({ databaseUrl: undefined, dockerAnswers: async () => true })).toEqual({ kind: "docker" });
    expect(await selectDatabase({ databaseUrl: "  ", dockerAnswers: async () => true })).toEqual({ kind: "docker" });
  });

  it("falls back to embedded PostgreSQL when Docker says no or fails", async () => {
    expect(await selectDatabase({ databaseUrl: undefined, dockerAnswers: async () => false })).toEqual({ kind: "embedded" });
    expect(
      await selectDatabase({ databaseUrl: undefined, dockerAnswers: () => Promise.reject(new Error("no socket")) }),
    ).toEqual({ kind: "embedded" });
  });

  it("redacts passwords for logs", () => {
    expect(redactUrl("postgres://alice:s3cret@h:5432/db")).toBe("postgres://alice:***@h:5432/db");
    expect(redactUrl("postgres://alice@h/db")).toBe("postgres://alice@h/db");
    expect(redactUrl("not a url s3cret")).not.toContain("s3cret");
  });
});
