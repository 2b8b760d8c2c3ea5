import type { CommandModule } from "yargs";

// SCAFFOLD: replaced by the real command before this lands.
export const generateCommand: CommandModule = {
  command: "generate",
  describe: "not built yet",
  handler: () => {
    throw new Error("sidetrack generate: not built yet");
  },
};
