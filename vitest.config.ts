import { defineConfig } from "vitest/config";

import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";

// Generated clients import "sidetrack"; inside this repo that is the runtime's source.
const runtime = (file: string) => fileURLToPath(new URL(`./runtime/${file}`, import.meta.url));

export default defineConfig({
  resolve: {
    alias: [
      { find: /^sidetrack\/prisma$/, replacement: runtime("prisma.ts") },
      { find: /^sidetrack\/generated$/, replacement: runtime("generated.ts") },
      { find: /^sidetrack$/, replacement: runtime("index.ts") },
    ],
  },
  test: {
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/support/global-setup.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    // Test files share one PostgreSQL. Each holds at most CONNECTION_BUDGET (20) connections
    // (test/support/database.ts), so at most 3 files at once keep the suite within 60 of the
    // default max_connections (100), leaving room for other clients of a shared server.
    maxWorkers: Math.min(3, Math.max(1, availableParallelism() - 1)),
  },
});
