// Transaction control, for the places that run several statements on one checked-out client
// (inTransaction in db/clients.ts, and each migration with its record).
export const beginSql = "begin";
export const commitSql = "commit";
export const rollbackSql = "rollback";
