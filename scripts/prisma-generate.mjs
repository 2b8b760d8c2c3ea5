// Generates the Prisma client of the test fixture. `prisma generate` does not run the schema
// engine but insists on having its binary, which it would download; any existing file will do,
// so offline machines point it at node itself.
import { spawnSync } from "node:child_process";

const env = { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? process.execPath, PRISMA_HIDE_UPDATE_MESSAGE: "1" };
const result = spawnSync("npx", ["prisma", "generate", "--schema", "test/fixtures/prisma/schema.prisma"], { env, stdio: "inherit" });
process.exit(result.status ?? 1);
