import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  existsSync,
  fstatSync,
  fsyncSync,
  openSync,
  unlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { dirname } from 'node:path';

// The files beside the ledger in DATA_DIR (and SECRETS_DIR) are its owner's alone: issuer keys,
// secrets, the development chain's registry. Every layer that writes one there uses these.

/** Writes a file only its owner can read (0600), whatever the umask. */
export function writePrivateFile(path: string, content: string): void {
  writeFileSync(path, content, { mode: 0o600 });
  chmodSync(path, 0o600);
}

/**
 * Destroys a private file: overwrites its bytes with random ones and syncs them, then unlinks
 * it and syncs its folder. On a copy-on-write or wear-levelled disk the old blocks may survive
 * the overwrite; keep DATA_DIR on an encrypted volume for that. Nothing happens when the file
 * is not there.
 */
export function destroyPrivateFile(path: string): void {
  if (!existsSync(path)) return;
  const fd = openSync(path, 'r+');
  try {
    const size = fstatSync(fd).size;
    if (size) writeSync(fd, randomBytes(size), 0, size, 0);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  unlinkSync(path);
  const dir = openSync(dirname(path), 'r');
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
}
