// What the pages and the JSON API show, read through runtime functions (never SQL of its own).
import {
  checkJobFilter,
  countMatchingJobs,
  dashboardOverview,
  jobDetail,
  jobsPage,
  listWorkerRows,
  optionalTables,
  type JobFilter,
  type JobsPage,
  type Overview,
  type QueueCounts,
} from "../runtime/client/dashboard.js";
import { listSchedules } from "../runtime/cron/schedules.js";
import { toDbClient, type DbClient } from "../runtime/db/clients.js";
import type { CronSchedule, Job, JobStatus } from "../runtime/index.js";

export interface OverviewData extends Overview {
  /** Whether the queues table (flow control) exists, so the paused flag means something. */
  pausable: boolean;
  /** Server time of the snapshot, epoch ms. */
  now: number;
}

export async function overviewData(db: DbClient, schema: string): Promise<OverviewData> {
  const [overview, tables] = await Promise.all([dashboardOverview(db, { schema }), optionalTables(db, { schema })]);
  return { ...overview, pausable: tables.queuesPaused, now: Date.now() };
}

export interface QueueData {
  queue: string;
  counts: QueueCounts | undefined;
  finishedCountsExact: boolean;
  schedules: CronSchedule[];
}

export async function queueData(db: DbClient, schema: string, queue: string): Promise<QueueData> {
  const [overview, schedules] = await Promise.all([dashboardOverview(db, { schema }), listSchedules(db, schema, queue)]);
  return { queue, counts: overview.queues.find((q) => q.queue === queue), finishedCountsExact: overview.finishedCountsExact, schedules };
}

export interface JobsData {
  filter: JobFilter;
  sort: "id" | "run_at";
  cursor: string | undefined;
  page: JobsPage;
  matching: { count: number; capped: boolean };
  queues: string[];
}

/** The jobs list's filter from a URL's query: queue, state, q (payload text or id), tag, sort, cursor. */
export function jobsQuery(params: URLSearchParams): { filter: JobFilter; sort: "id" | "run_at"; cursor: string | undefined } {
  const filter = checkJobFilter({
    queue: params.get("queue") || undefined,
    status: (params.get("state") || undefined) as JobStatus | undefined,
    q: params.get("q") || undefined,
    tag: params.get("tag") || undefined,
  });
  const sort = params.get("sort") === "run_at" ? "run_at" : "id";
  return { filter, sort, cursor: params.get("cursor") || undefined };
}

export async function jobsData(db: DbClient, schema: string, params: URLSearchParams): Promise<JobsData> {
  const { filter, sort, cursor } = jobsQuery(params);
  const [page, matching, overview] = await Promise.all([
    jobsPage(db, filter, { schema, sort, cursor }),
    countMatchingJobs(db, filter, { schema }),
    dashboardOverview(db, { schema }),
  ]);
  return { filter, sort, cursor, page, matching, queues: overview.queues.map((q) => q.queue) };
}

export interface JobDetail {
  job: Job;
  extra: Record<string, unknown>;
}

export function jobData(db: DbClient, schema: string, id: string): Promise<JobDetail | undefined> {
  return jobDetail(db, id, { schema });
}

export function cronData(db: DbClient, schema: string): Promise<CronSchedule[]> {
  return listSchedules(db, schema);
}

export function workersData(db: DbClient, schema: string): Promise<Record<string, unknown>[] | undefined> {
  return listWorkerRows(db, { schema });
}

export { toDbClient };
