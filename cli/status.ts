import type { CommandModule } from "yargs";

// SCAFFOLD: replaced by the real command before this lands.
export const statusCommand: CommandModule = {
  command: "status",
  describe: "not built yet",
  handler: () => {
    throw new Error("sidetrack status: not built yet");
  },
};
