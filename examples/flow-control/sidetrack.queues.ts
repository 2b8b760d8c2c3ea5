// Flow control, declared: `npm run example:flow` runs `sidetrack generate` on it first.
import { defineQueues, queue } from "sidetrack";

export default defineQueues({
  // One sync at a time per tenant, at most 4 at once over every worker.
  syncTenant: queue<{ tenantId: string; n: number }>({ concurrencyBy: ["tenantId"], globalConcurrency: 4 }),
  // A partner API that allows 5 calls per second, whatever the number of workers.
  callPartner: queue<{ n: number }>({ rateLimit: { limit: 5, per: "1s" } }),
});
