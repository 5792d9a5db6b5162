import { portProblem } from '../anchor/dev-node';

/**
 * Checks that a listener can open `host:port` before anything is created (no secrets, no data
 * folder, no chain), so a busy port is one line naming the port, the setting and the fix
 * instead of a failure after start-up. Port 0 (the kernel picks one) always passes.
 * @throws Error whose one-line message names the port, the setting (`PORT`, `CHAIN_PORT`) and what to do
 */
export async function checkListenPort(port: number, host: string, setting: string): Promise<void> {
  if (port === 0) return;
  const problem = await portProblem(port, host);
  if (!problem) return;
  throw new Error(describePortProblem(problem, port, host, setting));
}

/** The one line for a port that cannot be listened on (`code`: EADDRINUSE, EACCES, EADDRNOTAVAIL, …). */
export function describePortProblem(code: string, port: number, host: string, setting: string): string {
  const fix = `set ${setting} to a free port (0 picks one)`;
  if (code === 'EADDRINUSE') return `port ${port} (${setting}) is in use by another process; stop it or ${fix}`;
  if (code === 'EACCES')
    return `port ${port} (${setting}) on ${host} may not be opened by this user (EACCES); ${fix}, above 1023`;
  if (code === 'EADDRNOTAVAIL')
    return `${host} (HOST) is not an address of this machine (EADDRNOTAVAIL); set HOST to one, such as 127.0.0.1`;
  return `port ${port} (${setting}) on ${host} cannot be opened (${code}); ${fix}`;
}

/**
 * A start-up failure as one line: its message, with its cause's where the message alone hides
 * it ("Database failed to open"), newlines folded. With `stack` (LOG_LEVEL=debug), the stack follows.
 */
export function describeStartupError(e: unknown, stack = false): string {
  if (!(e instanceof Error)) return String(e);
  let text = e.message;
  const cause = (e as { cause?: unknown }).cause;
  if (cause instanceof Error && !text.includes(cause.message)) text += `: ${cause.message}`;
  text = text
    .replace(/:\s*\n\s*/g, ': ')
    .replace(/\s*\n\s*/g, '; ')
    .slice(0, 600);
  return stack && e.stack ? `${text}\n${e.stack}` : text;
}
