// The declaration: `npm run example:debounce` runs `sidetrack generate` on it first.
import { defineQueues, queue } from "sidetrack";

export default defineQueues({
  // Debounce: one reindex per document, run 200ms after its latest edit, with the latest payload.
  reindexDocument: queue<{ documentId: string; revision: number }>({ uniqueBy: ["documentId"], onDuplicate: "replace" }),
  // Throttle: at most one digest per user per hour, however often it is asked for.
  sendDigest: queue<{ userId: string }>({ uniqueBy: ["userId"], uniqueFor: "1h" }),
});
