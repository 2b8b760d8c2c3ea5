// `prisma generate` for this example. It never runs the schema engine but insists on its binary,
// which it would download; offline, any existing file will do.
import { spawnSync } from "node:child_process";

const env = { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: process.env.PRISMA_SCHEMA_ENGINE_BINARY ?? process.execPath, PRISMA_HIDE_UPDATE_MESSAGE: "1" };
const result = spawnSync("npx", ["prisma", "generate", "--schema", "examples/prisma-onboarding/schema.prisma"], { env, stdio: "inherit" });
process.exit(result.status ?? 1);
