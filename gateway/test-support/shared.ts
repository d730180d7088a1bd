/**
 * The shared, read-only material handed to the project (RFC 4475 torture messages …), used by
 * tests when present: $PARLEY_SHARED_DIR, ../shared next to the checkout, or /work/shared.
 */
import fs from 'node:fs';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');

export function sharedPath(...parts: string[]): string | undefined {
  const candidates = [process.env.PARLEY_SHARED_DIR, path.resolve(ROOT, '../shared'), '/work/shared'].filter(Boolean) as string[];
  for (const dir of candidates) {
    const p = path.join(dir, ...parts);
    if (fs.existsSync(p)) return p;
  }
  return undefined;
}
