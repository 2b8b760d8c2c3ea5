/** Resolves on the first SIGINT or SIGTERM; `stopped` tells a loop to finish its turn and end. */
export interface StopSignal {
  readonly stopped: boolean;
  /** The signal's name once one arrived. */
  readonly signal: NodeJS.Signals | undefined;
  readonly promise: Promise<NodeJS.Signals>;
  /** Waits ms, or less when a signal arrives first; leaves no timer behind. */
  sleep(ms: number): Promise<void>;
  /** Removes the listeners (call when done, so the process can exit). */
  dispose(): void;
}

export function untilSignal(onRepeat?: (signal: NodeJS.Signals) => void): StopSignal {
  let received: NodeJS.Signals | undefined;
  let resolve!: (signal: NodeJS.Signals) => void;
  const promise = new Promise<NodeJS.Signals>((r) => (resolve = r));
  const listener = (signal: NodeJS.Signals) => {
    if (received) return onRepeat?.(signal);
    received = signal;
    resolve(signal);
  };
  process.on("SIGINT", listener);
  process.on("SIGTERM", listener);
  return {
    get stopped() {
      return received !== undefined;
    },
    get signal() {
      return received;
    },
    promise,
    async sleep(ms: number) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([new Promise((r) => (timer = setTimeout(r, ms))), promise]);
      clearTimeout(timer);
    },
    dispose() {
      process.off("SIGINT", listener);
      process.off("SIGTERM", listener);
    },
  };
}
