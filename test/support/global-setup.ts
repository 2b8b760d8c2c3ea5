// vitest global setup: provides one real PostgreSQL for the whole run. Each test file then
// creates its own database in it (test/support/database.ts), so files run in parallel.
import type { TestProject } from "vitest/node";
import { startEmbeddedPostgres } from "../../scripts/embedded-postgres.js";
import { redactUrl, selectDatabase } from "./select-database.js";

declare module "vitest" {
  export interface ProvidedContext {
    adminDatabaseUrl: string;
  }
}

async function dockerAnswers(): Promise<boolean> {
  const { getContainerRuntimeClient } = await import("testcontainers");
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error("timeout")), 10_000).unref());
  await Promise.race([getContainerRuntimeClient(), timeout]);
  return true;
}

export default async function setup(project: TestProject) {
  const source = await selectDatabase({ databaseUrl: process.env.DATABASE_URL, dockerAnswers });
  let url: string;
  let teardown: () => Promise<void> = async () => undefined;
  if (source.kind === "env") {
    url = source.url;
  } else if (source.kind === "docker") {
    const { PostgreSqlContainer } = await import("@testcontainers/postgresql");
    const container = await new PostgreSqlContainer("postgres:17-alpine").start();
    url = container.getConnectionUri();
    teardown = async () => void (await container.stop());
  } else {
    const embedded = await startEmbeddedPostgres();
    url = embedded.url;
    teardown = () => embedded.stop();
  }
  console.log(`[sidetrack tests] PostgreSQL from ${source.kind}: ${redactUrl(url)}`);
  process.env.SIDETRACK_TEST_ADMIN_URL = url;
  project.provide("adminDatabaseUrl", url);
  return teardown;
}
