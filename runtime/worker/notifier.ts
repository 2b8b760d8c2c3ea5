import type pg from "pg";
import { FailureBackoff } from "./backoff.js";
import { quoteIdent } from "../config/identifiers.js";
import { unlistenAllSql } from "../db/sql/transactions.js";

export interface NotifierOptions {
  pool: pg.Pool;
  channels: readonly string[];
  onNotification: (channel: string, payload: string) => void;
  /** Called after every (re)connection: notifications sent while disconnected are lost. */
  onConnected: () => void;
  onError: (error: unknown) => void;
}

/**
 * One LISTEN connection per worker process, shared by every channel. When the connection
 * drops it reconnects with growing delays, forever, until stopped.
 */
export class Notifier {
  #client: pg.PoolClient | undefined;
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
    const client = this.#client;
    this.#client = undefined;
    if (client) {
      client.removeAllListeners("notification");
      await client.query(unlistenAllSql).catch(() => undefined);
      client.release();
    }
  }

  async #connect(): Promise<void> {
    let client: pg.PoolClient | undefined;
    try {
      client = await this.options.pool.connect();
      const lost = (error?: Error) => this.#lost(client!, error);
      client.on("error", lost);
      client.on("end", () => lost());
      client.on("notification", (n) => this.options.onNotification(n.channel, n.payload ?? ""));
      // The one statement built outside db/sql/: a channel name is an identifier derived from
      // the schema (config/identifiers.ts), quoted here.
      for (const channel of this.options.channels) await client.query(`listen ${quoteIdent(channel)}`);
      if (this.#stopped) {
        client.release();
        return;
      }
      this.#client = client;
      this.#backoff.succeeded();
      this.options.onConnected();
    } catch (error) {
      if (client) client.release(error as Error);
      this.options.onError(error);
      this.#scheduleReconnect();
    }
  }

  #lost(client: pg.PoolClient, error?: Error): void {
    if (this.#client !== client) return;
    this.#client = undefined;
    client.removeAllListeners("notification");
    // Destroy rather than return it to the pool: the connection is broken.
    client.release(error ?? new Error("LISTEN connection ended"));
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
