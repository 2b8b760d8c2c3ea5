// SIGTERM / SIGINT for a started Sidetrack: the first signal stops gracefully, a second one
// aborts the running jobs at once (they still go back to the queue without spending an attempt).

export interface SignalTarget {
  /** Graceful stop: no new jobs, running ones get the grace period. */
  stop(): Promise<void>;
  /** The second signal: abort what still runs. */
  stopNow(): void;
  onStopping(signal: NodeJS.Signals): void;
  onError(error: unknown): void;
}

/** Listens for SIGTERM and SIGINT until the returned function is called. */
export function handleStopSignals(target: SignalTarget): () => void {
  let received = 0;
  const handler = (signal: NodeJS.Signals) => {
    received++;
    if (received > 1) {
      target.stopNow();
      return;
    }
    target.onStopping(signal);
    void target.stop().then(
      () => {
        // Our listener kept Node from exiting on the signal; now that we are done, behave as if
        // we had never listened, unless the application listens too.
        if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
      },
      (error) => target.onError(error),
    );
  };
  process.on("SIGTERM", handler);
  process.on("SIGINT", handler);
  return () => {
    process.off("SIGTERM", handler);
    process.off("SIGINT", handler);
  };
}
