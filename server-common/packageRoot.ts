/** The project's root folder (where package.json is), from compiled or source code alike. */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export function packageRoot(from = path.dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json')) && fs.existsSync(path.join(dir, 'gateway'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the Parley package root');
    dir = up;
  }
}
