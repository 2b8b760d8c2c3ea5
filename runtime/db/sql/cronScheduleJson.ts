/**
 * Statements that return schedules return each as one JSON text column (`schedule`): the same
 * through pg and Prisma, ids exact. Parsed by `parseCronSchedule` in cron.ts.
 */
export function cronScheduleJson(alias: string): string {
  return `(to_jsonb(${alias}) || jsonb_build_object('id', ${alias}.id::text))::text`;
}
