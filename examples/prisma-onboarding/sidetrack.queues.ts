// The one declaration: `npm run example:prisma` runs `sidetrack generate` on it first.
import { defineQueues, queue } from "sidetrack";

export default defineQueues({
  userOnboarding: queue<{ email: string }>(),
});
