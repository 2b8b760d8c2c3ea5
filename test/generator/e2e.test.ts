// End to end, as a user would: pack the package, install the tarball in a fresh project, write a
// declaration, `npx sidetrack generate`, migrate, insert in Prisma transactions (commit and rollback),
// then run the worker until the job completes.
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { MIGRATIONS } from "../../runtime/db/migrations/index.js";
import { createTestDatabase, type TestDatabase } from "../support/database.js";
import { fixturesDir, repoRoot } from "./helpers.js";

let project: string;
let db: TestDatabase;

/**
 * Installs the packed tarball into `project`: unpacked into node_modules/sidetrack with its bin linked,
 * its dependencies (and the app's: Prisma, pg) symlinked from the repo's node_modules, because this
 * machine cannot download and `npm install` would prune the links.
 */
function installTarball(tarball: string, dir: string): void {
  const modules = path.join(dir, "node_modules");
  const target = path.join(modules, "sidetrack");
  fs.mkdirSync(target, { recursive: true });
  execFileSync("tar", ["-xzf", tarball, "-C", target, "--strip-components=1"]);
  const manifest = JSON.parse(fs.readFileSync(path.join(target, "package.json"), "utf8")) as { dependencies: Record<string, string>; bin: Record<string, string> };
  const links = [...Object.keys(manifest.dependencies), "@types/pg", "@prisma/client", "@prisma/adapter-pg"];
  for (const name of links) {
    fs.mkdirSync(path.dirname(path.join(modules, name)), { recursive: true });
    fs.symlinkSync(path.join(repoRoot, "node_modules", name), path.join(modules, name));
  }
  fs.mkdirSync(path.join(modules, ".bin"), { recursive: true });
  fs.symlinkSync(path.join("..", "sidetrack", manifest.bin.sidetrack!), path.join(modules, ".bin", "sidetrack"));
}

beforeAll(async () => {
  db = await createTestDatabase("gen_e2e");
  project = fs.mkdtempSync(path.join(os.tmpdir(), "sidetrack-e2e-"));
  execFileSync("npm", ["run", "build"], { cwd: repoRoot, stdio: "pipe" });
  const packed = execFileSync("npm", ["pack", "--pack-destination", project, "--silent"], { cwd: repoRoot, encoding: "utf8" }).trim().split("\n").at(-1)!;
  fs.writeFileSync(path.join(project, "package.json"), JSON.stringify({ name: "e2e-app", private: true, type: "module" }, null, 2));
  installTarball(path.join(project, packed), project);
  fs.copyFileSync(path.join(fixturesDir, "e2e/sidetrack.queues.ts"), path.join(project, "sidetrack.queues.ts"));
  fs.copyFileSync(path.join(fixturesDir, "e2e/app.ts"), path.join(project, "app.ts"));
  // The app's Prisma client (the User model of the original documentation), generated once for the repo's tests.
  fs.cpSync(path.join(repoRoot, "test/fixtures/prisma/generated"), path.join(project, "prisma/generated"), { recursive: true });
  return () => fs.rmSync(project, { recursive: true, force: true });
}, 180_000);

describe("installed package", () => {
  it("npx sidetrack generate writes the client from the declaration", () => {
    const out = execFileSync("npx", ["--no-install", "sidetrack", "generate"], { cwd: project, encoding: "utf8" });
    expect(out).toContain(`${1 + MIGRATIONS.length} written`);
    expect(fs.readFileSync(path.join(project, "sidetrack/client.ts"), "utf8")).toContain("export async function insertUserOnboarding(");
    expect(execFileSync("npx", ["--no-install", "sidetrack", "generate", "--check"], { cwd: project, encoding: "utf8" })).toContain("up to date");
  });

  it("migrates, inserts in Prisma transactions (commit and rollback), and the worker completes the job", () => {
    const output = execFileSync(path.join(repoRoot, "node_modules/.bin/tsx"), ["app.ts"], {
      cwd: project,
      encoding: "utf8",
      env: { ...process.env, DATABASE_URL: db.url },
    });
    const report = JSON.parse(/^E2E (.*)$/m.exec(output)![1]!) as Record<string, unknown>;
    expect(report.error, "the app failed").toBeUndefined();
    expect(report.migrated).toEqual(MIGRATIONS.map((m) => m.version));
    expect(report.jobEmails).toEqual(["committed@example.com"]);
    expect(report.users).toBe(1);
    // The worker step: needs the engine; fails with "worker engine … has not landed yet" until it does.
    expect(report.handled).toEqual(["committed@example.com"]);
    expect(report.finalStatus).toBe("completed");
  });
});
