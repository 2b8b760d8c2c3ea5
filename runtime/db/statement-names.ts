/**
 * The names the statements that read the jobs table are prepared under (a worker's claims and
 * outcomes, keyed inserts), which follow the size of the table.
 *
 * PostgreSQL keeps a prepared statement's generic plan until the table's statistics or its
 * definition change, not when the table grows. A plan made while the table was small (a new
 * deployment, or a table emptied and analyzed) reads it whole, since a sequential scan is the
 * cheapest way through a few pages, and goes on doing so as the table grows for as long as
 * nothing analyzes it (autovacuum off, or not run yet): every claim then read every job. A new
 * name makes each connection plan the statement again against the table as it is now, its size
 * read from the file (the planner scales stale row counts to the current number of pages).
 *
 * So the names carry the table's size class, as those statements report the size: one class per
 * doubling from TABLE_CLASS_BASE_BYTES up to TABLE_CLASS_TOP_BYTES, and the last class above
 * that. The plans PostgreSQL 15 makes for these statements use the indexes from about 400 KB of
 * table on (bench/README.md has them by size), and a larger table only makes the indexes more
 * attractive, so a plan made past the top is kept; below it a stale plan reads at most twice
 * the table it was made on. That is eight names per statement at most on each connection (a
 * prepared claim with its generic plan holds about 330 KB of the backend's memory), and one or
 * two for a worker that starts on a table already past the top. The class never moves down:
 * a plan made on a larger table is as good on a smaller one.
 */
export const TABLE_CLASS_BASE_BYTES = 32 * 1024;
export const TABLE_CLASS_TOP_BYTES = 2 * 1024 * 1024;

export class StatementNames {
  #sizeClass = 0;

  /** `prepared` false: nothing is named (a pooler that cannot keep prepared statements), so every statement is planned each time. */
  constructor(
    private readonly schema: string,
    private readonly prepared: boolean,
  ) {}

  /** The name to prepare `statement` under now, or undefined when statements are not prepared. */
  of(statement: string): string | undefined {
    return this.prepared ? `sidetrack_${statement}_${this.#sizeClass}_${this.schema}` : undefined;
  }

  /** The jobs table's size in bytes as a statement just read it. */
  observeTableBytes(bytes: number): void {
    let sizeClass = 0;
    for (let limit = TABLE_CLASS_BASE_BYTES; bytes >= limit && limit <= TABLE_CLASS_TOP_BYTES; limit *= 2) sizeClass++;
    if (sizeClass > this.#sizeClass) this.#sizeClass = sizeClass;
  }
}
