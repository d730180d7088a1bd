/**
 * Random identifiers (branches, tags, Call-IDs) from a pooled CSPRNG buffer: one
 * randomFillSync per few hundred ids instead of a system call per id.
 */
import crypto from 'node:crypto';

const pool = Buffer.alloc(4096);
let pos = pool.length;

/** `bytes` random bytes as base64url (bytes ≤ 64). */
export function randomId(bytes: number): string {
  if (pos + bytes > pool.length) {
    crypto.randomFillSync(pool);
    pos = 0;
  }
  const s = pool.toString('base64url', pos, pos + bytes);
  pos += bytes;
  return s;
}
