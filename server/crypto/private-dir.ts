import { chmodSync, lstatSync, mkdirSync, readdirSync, statSync, type Stats } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';

/** A folder the service keeps private and could not make so: start-up stops with this one line. */
export class PrivateDirError extends Error {
  readonly code = 'DIR_NOT_PRIVATE';
}

const octal = (mode: number) => `0${(mode & 0o777).toString(8).padStart(3, '0')}`;

function exposure(mode: number): string {
  const readable = mode & 0o044;
  const bits = readable ? [mode & 0o040, mode & 0o004] : [mode & 0o070, mode & 0o007];
  const who = [bits[0] ? 'its group' : '', bits[1] ? 'other users' : ''].filter(Boolean).join(' and ');
  return who ? `, ${readable ? 'readable by' : 'open to'} ${who}` : '';
}

function serviceUser(): string {
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.() ?? '<service user>');
  }
}

function reason(e: NodeJS.ErrnoException): string {
  const uid = process.getuid?.();
  if (e.code === 'EPERM') return `the service's user${uid === undefined ? '' : ` (uid ${uid})`} does not own it`;
  if (e.code === 'EACCES')
    return `the service's user${uid === undefined ? '' : ` (uid ${uid})`} may not enter it or its parent`;
  if (e.code === 'EROFS') return 'it is on a read-only file system';
  return e.code ?? e.message;
}

function fix(e: NodeJS.ErrnoException, root: string, missing: boolean): string {
  if (e.code === 'EROFS') return `mount ${root} read-write, or point the setting at a writable folder`;
  if (missing)
    return `as root, run \`mkdir -p -m 700 ${root} && chown ${serviceUser()} ${root}\`, or point the setting at a folder the service's user owns`;
  return `as the folder's owner or root, run \`chown -R ${serviceUser()} ${root} && chmod -R go-rwx ${root}\`, or point the setting at a folder the service's user owns`;
}

/**
 * Makes `dir` and everything in it private to the service's user: folders 0700, files 0600,
 * recursively, creating `dir` (0700) when missing. Runs at every start, before anything in the
 * folder is opened, so a folder copied or restored with a looser mode is closed again. `dir`
 * itself may be a symbolic link to the folder; links inside it are left alone (a link's own
 * mode means nothing on Linux, and what it points at is not the service's to change).
 * @param setting the setting that names the folder (DATA_DIR, SECRETS_DIR), for the message
 * @throws PrivateDirError naming the folder, its mode and the fix, when it cannot be created or changed
 */
export function makePrivateDir(dir: string, setting: string): void {
  const fail = (path: string, st: Stats | undefined, e: NodeJS.ErrnoException, missing = false): never => {
    const what = st
      ? `is mode ${octal(st.mode)}${exposure(st.mode)}, and cannot be made ${st.isDirectory() ? '0700' : '0600'}`
      : missing
        ? 'cannot be created'
        : 'cannot be reached';
    const where = path === dir ? `${setting} ${dir}` : `${path} (in ${setting} ${dir})`;
    throw new PrivateDirError(`${where} ${what}: ${reason(e)}; ${fix(e, dir, missing)}`);
  };
  let top: Stats | undefined;
  try {
    // The folder itself may be a link to a volume: follow it; links inside it are left alone.
    top = statSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') fail(dir, undefined, e as NodeJS.ErrnoException);
  }
  if (!top) {
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      chmodSync(dir, 0o700);
    } catch (e) {
      fail(dir, undefined, e as NodeJS.ErrnoException, true);
    }
    return;
  }
  if (!top.isDirectory()) throw new PrivateDirError(`${setting} ${dir} is not a folder: point ${setting} at a folder`);
  const walk = (path: string, st: Stats) => {
    if (st.isSymbolicLink()) return;
    const want = st.isDirectory() ? 0o700 : 0o600;
    if ((st.mode & 0o777) !== want) {
      try {
        chmodSync(path, want);
      } catch (e) {
        fail(path, st, e as NodeJS.ErrnoException);
      }
    }
    if (!st.isDirectory()) return;
    let names: string[] = [];
    try {
      names = readdirSync(path);
    } catch (e) {
      fail(path, st, e as NodeJS.ErrnoException);
    }
    for (const name of names) {
      const child = join(path, name);
      walk(child, lstatSync(child));
    }
  };
  walk(dir, top);
}
