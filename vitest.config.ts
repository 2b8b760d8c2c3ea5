import { defineConfig } from "vitest/config";

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
  },
});
