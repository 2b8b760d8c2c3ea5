// The declaration: `npm run example:output` runs `sidetrack generate` on it first. The second type
// argument is what the handler returns; it is stored on the job as `output` and read back typed.
import { defineQueues, queue } from "sidetrack";

export default defineQueues({
  thumbnail: queue<{ imageId: string; width: number }, { url: string; bytes: number }>({ maxOutputBytes: 4096 }),
});
