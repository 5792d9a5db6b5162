/**
 * Runs `job` every `intervalMs` on an unref'd timer (it never keeps the process alive);
 * `stop` clears it and waits for a run under way. A failed run goes to `onError` and the
 * next one runs as usual.
 */
export function startPeriodic(
  intervalMs: number,
  job: () => Promise<unknown>,
  onError: (e: Error) => void,
): { stop(): Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    running = job().catch(onError);
  }, intervalMs);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
    },
  };
}
