/**
 * Waiting on a condition rather than for a time: a test that sleeps "long enough" is slow when the machine is idle and
 * wrong when it is loaded. `ms` bounds the wait only, so a broken condition fails the test instead of hanging it.
 */

/**
 * Resolves once `pred()` holds, checked every couple of milliseconds (a socket event, a counter, a state).
 * @param what named in the error.
 * @throws Error naming `what` when it does not hold within `ms`.
 */
export async function until(pred: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Lets the callbacks already queued (promise reactions, I/O completions) run: one event-loop turn. */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
