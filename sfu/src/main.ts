/**
 * A standalone SFU node (scale-out): `node build/sfu/src/main.js` with REDIS_URL and
 * PARLEY_SFU_SECRET shared with the gateways. Serves WebSocket /sfu and GET /healthz.
 */
import http from 'node:http';
import os from 'node:os';
import { createLogger } from '../../server-common/logger.js';
import { joinTokenKey } from '../../server-common/joinToken.js';
import { loadSfuConfig } from './config.js';
import { SfuNode } from './node/sfuNode.js';
import { createConferenceRegistry } from './registry/index.js';

async function main(): Promise<void> {
  const config = loadSfuConfig();
  const logger = createLogger(config.PARLEY_LOG_LEVEL, 'parley-sfu');
  if (!config.REDIS_URL) throw new Error('A standalone SFU node needs REDIS_URL (the shared conference registry).');
  if (!config.PARLEY_SFU_SECRET) throw new Error('A standalone SFU node needs PARLEY_SFU_SECRET (shared with the gateways).');

  const server = http.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.PARLEY_SFU_PORT, config.PARLEY_SFU_HTTP_HOST, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  const nodeId = config.PARLEY_SFU_NODE_ID ?? `${os.hostname()}-${port}`;
  const url = config.PARLEY_SFU_PUBLIC_URL ?? `ws://${config.announcedAddress}:${port}/sfu`;
  const registry = await createConferenceRegistry(config.REDIS_URL, {
    nodeTtlMs: config.PARLEY_SFU_NODE_TTL_MS,
    pinTtlMs: config.PARLEY_SFU_PIN_TTL_MS,
    keyPrefix: config.PARLEY_REDIS_PREFIX,
  });
  const node = new SfuNode({
    config,
    nodeId,
    url,
    registry,
    tokenKey: joinTokenKey(Buffer.from(config.PARLEY_SFU_SECRET, 'utf8')),
    logger,
  });

  server.on('request', (req, res) => {
    if (req.method === 'GET' && req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ok: true, node: node.status(), conferences: node.rooms.size }));
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'not found' }));
  });
  server.on('upgrade', (req, socket, head) => {
    if (new URL(req.url ?? '/', 'http://x').pathname === '/sfu') node.handleUpgrade(req, socket, head);
    else socket.destroy();
  });

  await node.start();
  logger.info({ nodeId, url, workers: config.PARLEY_SFU_WORKERS }, 'SFU node ready');
  // Printed for people and for test harnesses that wait for the node.
  console.log(`Parley SFU node ${nodeId} ready at ${url}`);

  const shutdown = async (signal: string) => {
    logger.info({ signal }, 'SFU node stopping');
    await node.stop();
    await registry.close();
    server.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((err: Error) => {
  console.error(`Parley SFU node failed to start: ${err.message}`);
  process.exit(1);
});
