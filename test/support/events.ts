// Tests wait on the engine's events, never on sleeps.
import type { Sidetrack } from "../../runtime/index.js";
import type { SidetrackEvents } from "../../runtime/types.js";

/** Resolves with the arguments of the first `event` for which `match` holds. */
export function nextEvent<E extends keyof SidetrackEvents>(
  sidetrack: Sidetrack<any>,
  event: E,
  match: (...args: SidetrackEvents[E]) => boolean = () => true,
  timeoutMs = 20_000,
): Promise<SidetrackEvents[E]> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      sidetrack.off(event, listener);
      reject(new Error(`no ${event} event within ${timeoutMs}ms`));
    }, timeoutMs);
    const listener = (...args: SidetrackEvents[E]) => {
      if (!match(...args)) return;
      clearTimeout(timer);
      sidetrack.off(event, listener);
      resolve(args);
    };
    sidetrack.on(event, listener);
  });
}

/** A promise with its resolve function, for handlers that wait on the test. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}
