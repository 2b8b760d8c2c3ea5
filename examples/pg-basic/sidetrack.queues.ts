// The one declaration: `npm run example:pg` runs `sidetrack generate` on it first.
import { defineQueues, queue } from "sidetrack";

export default defineQueues({
  sendInvoice: queue<{ invoiceId: string; amountCents: number }>({ maxAttempts: 5, uniqueBy: ["invoiceId"] }),
});
