// `sidetrack/prisma`: kept as its own entry point so pg-only users never see Prisma in their types.
import { usePrismaClient, type DbClient, type PrismaQueryable } from "./db/clients.js";

/**
 * Adapts a Prisma client, or the `tx` of an interactive transaction, so a job is
 * inserted in the same transaction as your data:
 * `await prisma.$transaction(async (tx) => sidetrack.insertJob("q", payload, { dbClient: usePrisma(tx) }))`.
 */
export function usePrisma(prisma: PrismaQueryable): DbClient {
  return usePrismaClient(prisma);
}

export type { DbClient, PrismaQueryable };
