import pg from "pg";
import { FailureBackoff } from "./backoff.js";
import { quoteIdent } from "../config/identifiers.js";
import { releaseSessionSql } from "../db/sql/workers.js";

export interface NotifierOptions {
  pool: pg.Pool;
  /**
   * Connect here instead of taking a pool connection: a direct (session) connection when the
   * pool goes through a transaction-mode pooler, where LISTEN and session locks do not work.
   */
  connectionString?: string;
  channels: readonly string[];
  onNotification: (channel: string, payload: string) => void;
  /**
   * After every (re)connection, before onConnected: the worker takes its liveness lock on this
   * session and registers over it (registry.ts). A failure counts as a failed connection.
   */
  onSession: (session: pg.ClientBase) => Promise<void>;
  /** The session ended (its liveness lock went with it). */
  onSessionLost: (session: pg.ClientBase) => void;
  /** Called after every (re)connection: notifications sent while disconnected are lost. */
  onConnected: () => void;
  onError: (error: unknown) => void;
}

/** A connection of the notifier and how to let it go (back to the pool, or closed). */
interface Session {
  client: pg.ClientBase;
  release: (broken?: Error) => void;
}

/**
 * One long-lived connection per worker process: every LISTEN channel, and the worker's
 * liveness lock (the one place that session-level state lives). When the connection drops it
 * reconnects with growing delays, forever, until stopped.
 */
export class Notifier {
  #session: Session | undefined;
  #stopped = false;
  readonly #backoff = new FailureBackoff();
  #retry: NodeJS.Timeout | undefined;
  #connecting: Promise<void> | undefined;

  constructor(private readonly options: NotifierOptions) {}

  start(): Promise<void> {
    this.#stopped = false;
    this.#connecting = this.#connect();
    return this.#connecting;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retry);
    await this.#connecting;
    const session = this.#session;
    this.#session = undefined;
    if (session) {
      session.client.removeAllListeners("notification");
      this.options.onSessionLost(session.client);
      await session.client.query(releaseSessionSql).catch(() => undefined);
      session.release();
    }
  }

  async #open(): Promise<Session> {
    if (this.options.connectionString === undefined) {
      const client = await this.options.pool.connect();
      let released = false;
      return {
        client,
        release: (broken) => {
          if (!released) client.release(broken ?? false);
          released = true;
        },
      };
    }
    const client = new pg.Client({ connectionString: this.options.connectionString });
    client.on("error", () => undefined); // reported through #lost below
    await client.connect().catch(async (error: unknown) => {
      await client.end().catch(() => undefined);
      throw error;
    });
    return { client, release: () => void client.end().catch(() => undefined) };
  }

  async #connect(): Promise<void> {
    let session: Session | undefined;
    try {
      session = await this.#open();
      const { client } = session;
      const lost = (error?: Error) => this.#lost(session!, error);
      client.on("error", lost);
      client.on("end", () => lost());
      client.on("notification", (n) => this.options.onNotification(n.channel, n.payload ?? ""));
      // The one statement built outside db/sql/: a channel name is an identifier derived from
      // the schema (config/identifiers.ts), quoted here.
      for (const channel of this.options.channels) await client.query(`listen ${quoteIdent(channel)}`);
      if (this.#stopped) {
        await client.query(releaseSessionSql).catch(() => undefined);
        session.release();
        return;
      }
      this.#session = session;
      await this.options.onSession(client);
      this.#backoff.succeeded();
      this.options.onConnected();
    } catch (error) {
      if (session) {
        if (this.#session === session) this.#session = undefined;
        this.options.onSessionLost(session.client);
        session.release(error as Error);
      }
      this.options.onError(error);
      this.#scheduleReconnect();
    }
  }

  #lost(session: Session, error?: Error): void {
    if (this.#session !== session) return;
    this.#session = undefined;
    session.client.removeAllListeners("notification");
    this.options.onSessionLost(session.client);
    // Destroy rather than return it to the pool: the connection is broken.
    session.release(error ?? new Error("LISTEN connection ended"));
    if (this.#stopped) return;
    if (error) this.options.onError(error);
    this.#scheduleReconnect();
  }

  #scheduleReconnect(): void {
    if (this.#stopped) return;
    this.#retry = setTimeout(() => {
      this.#connecting = this.#connect();
    }, this.#backoff.failed());
  }
}
