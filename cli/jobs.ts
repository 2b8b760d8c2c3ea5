import type { CommandModule } from "yargs";

// SCAFFOLD: replaced by the real command before this lands.
export const jobsCommand: CommandModule = {
  command: "jobs",
  describe: "not built yet",
  handler: () => {
    throw new Error("sidetrack jobs: not built yet");
  },
};
