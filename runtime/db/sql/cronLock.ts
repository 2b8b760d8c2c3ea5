/** start(): serialises the registration of declared schedules between workers starting at once. $1 the schema. */
export const cronRegisterLockSql = "select pg_advisory_xact_lock(hashtext('sidetrack.cron.' || $1::text))";
