import type { CommandModule } from "yargs";

// SCAFFOLD: replaced by the real command before this lands.
export const workerCommand: CommandModule = {
  command: "worker",
  describe: "not built yet",
  handler: () => {
    throw new Error("sidetrack worker: not built yet");
  },
};
