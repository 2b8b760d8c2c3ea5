// Fewer index entries and cheaper row versions on the claim/complete path. `{{schema}}` is
// replaced by the quoted schema name when rendered. A migration's text is checksummed once
// applied: never edit it, add a new migration instead.
//
// A claim wrote three index entries per job (primary key, jobs_lease_idx, jobs_running_key_idx)
// and a completion two. The two running-job indexes become one on (queue, locked_until), which
// serves the rescuer (a scan of the running jobs, few by nature), the limited claim's count of
// a queue's running jobs, and the dashboard; the per-key count gets its own index of rows that
// have a concurrency key, which queues without concurrencyBy never write. The new indexes exist
// before the old ones go, so every statement of this release and of the previous one has an
// index to use throughout; dropping an index takes a brief exclusive lock on the table, which
// waits for the statements running (a claim lasts milliseconds).
//
// fillfactor 70: rows inserted from now on leave a third of their page free, so a claim's and a
// completion's new row versions usually land on the same page as the old one (one page written
// instead of two, and no extra WAL record to lock the old version while a new page is found).
// It changes no existing page and takes only a lock that DML does not wait for.
export const sql = `alter table {{schema}}.jobs set (fillfactor = 70);

create index if not exists jobs_running_idx on {{schema}}.jobs (queue, locked_until)
  where status = 'running';
create index if not exists jobs_running_by_key_idx on {{schema}}.jobs (queue, concurrency_key)
  where status = 'running' and concurrency_key is not null;

drop index if exists {{schema}}.jobs_lease_idx;
drop index if exists {{schema}}.jobs_running_key_idx;
`;
