/**
 * Loads mediasoup with the right worker binary. mediasoup reads MEDIASOUP_WORKER_BIN once,
 * when its module is first evaluated, so we set it and then import mediasoup dynamically.
 * Order: MEDIASOUP_WORKER_BIN if the operator set it; else the worker scripts/setup.sh built
 * from Debian's libraries (.cache/mediasoup-worker); else mediasoup's own prebuilt worker.
 */
import fs from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../../../server-common/packageRoot.js';

type Mediasoup = typeof import('mediasoup');

let loaded: Promise<Mediasoup> | undefined;

export function loadMediasoup(): Promise<Mediasoup> {
  if (!loaded) {
    if (!process.env.MEDIASOUP_WORKER_BIN) {
      const built = path.join(packageRoot(), '.cache', 'mediasoup-worker');
      if (fs.existsSync(built)) process.env.MEDIASOUP_WORKER_BIN = fs.realpathSync(built);
    }
    loaded = import('mediasoup');
  }
  return loaded;
}
