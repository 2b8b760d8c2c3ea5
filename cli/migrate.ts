import type { CommandModule } from "yargs";

// SCAFFOLD: replaced by the real command before this lands.
export const migrateCommand: CommandModule = {
  command: "migrate",
  describe: "not built yet",
  handler: () => {
    throw new Error("sidetrack migrate: not built yet");
  },
};
