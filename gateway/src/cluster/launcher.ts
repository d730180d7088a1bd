/**
 * PARLEY_NODES=N: one machine runs N gateway nodes as processes (Node's cluster module), so a
 * machine with N cores uses them all, and one node dying leaves the others serving while it is
 * started again.
 *
 * - The nodes share the machine's ports: HTTP (web app, WebSocket SIP/XMPP, BOSH), SIP over TCP
 *   and XMPP (the cluster module hands each new connection to the next node). SIP over UDP is
 *   served by node 0 only: a datagram socket read by several processes would hand a
 *   transaction's retransmissions to different nodes. Each node also listens on a loopback TCP
 *   port of its own, where the others send SIP for the connections it holds.
 * - Conferences: one SFU node process for the machine (sfu/), reached by browsers through every
 *   gateway node's /sfu (they hand the WebSocket on), with the conference registry in Redis.
 * - The shared state is where several nodes need it anyway: REDIS_URL and a PostgreSQL
 *   DATABASE_URL are required (SQLite files cannot be shared between processes safely).
 * - A node that exits is started again; SIGTERM/SIGINT stop them all.
 */
import { fork, type ChildProcess } from 'node:child_process';
import cluster, { type Worker } from 'node:cluster';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Logger } from '../../../server-common/logger.js';
import type { GatewayConfig } from '../config.js';
import { loadTlsContext } from '../util/tlsCredentials.js';
import { restartBackoff } from './restartBackoff.js';

const SFU_MAIN = path.resolve(import.meta.dirname, '../../../sfu/src/main.js');

/** Why PARLEY_NODES cannot run with this configuration, or undefined when it can. */
export function nodesUnsupported(config: GatewayConfig): string | undefined {
  const missing = [!config.cluster && 'REDIS_URL=redis://… (the live state the nodes share)', !config.database.url && 'DATABASE_URL=postgres://… (SQLite files cannot be shared by several processes)'].filter(Boolean);
  if (!missing.length) return undefined;
  return `PARLEY_NODES=${config.nodes} runs ${config.nodes} gateway nodes, which need ${missing.join(' and ')}. See the README, "Several nodes".`;
}

export async function runNodes(config: GatewayConfig, logger: Logger): Promise<void> {
  // What every node would otherwise create at its first start, made once before they race for it.
  fs.mkdirSync(config.dataDir, { recursive: true });
  await loadTlsContext(config.dataDir, config.domain, config.xmpp.tlsCert, config.xmpp.tlsKey);

  const base = process.env.PARLEY_NODE_ID ?? `${os.hostname()}-${config.http.port}`;
  const shared: Record<string, string> = { PARLEY_NODE_HOST: process.env.PARLEY_NODE_HOST ?? '127.0.0.1' };
  let sfu: ChildProcess | undefined;
  let stopping = false;
  let startSfu: (() => void) | undefined;
  if (config.conferences.embeddedSfu) {
    const sfuPort = await freeLoopbackPort();
    const secret = config.conferences.sfuSecret ?? crypto.randomBytes(32).toString('base64url');
    Object.assign(shared, { PARLEY_SFU_EMBEDDED: 'false', PARLEY_SFU_SECRET: secret, PARLEY_SFU_UPSTREAM: `http://127.0.0.1:${sfuPort}` });
    const sfuRestarts = restartBackoff();
    startSfu = () => {
      sfuRestarts.started();
      sfu = fork(SFU_MAIN, [], {
        env: {
          ...process.env,
          PARLEY_SFU_SECRET: secret,
          PARLEY_SFU_PORT: String(sfuPort),
          PARLEY_SFU_HTTP_HOST: '127.0.0.1',
          PARLEY_SFU_PUBLIC_URL: `${config.http.publicUrl.replace(/^http/, 'ws')}/sfu`,
          PARLEY_SFU_NODE_ID: process.env.PARLEY_SFU_NODE_ID ?? `${base}-sfu`,
        },
      });
      sfu.on('exit', (code, signal) => {
        if (stopping) return;
        const delayMs = sfuRestarts.nextDelayMs();
        logger.error({ code, signal, inMs: delayMs }, 'the SFU node exited; starting it again');
        setTimeout(() => startSfu?.(), delayMs).unref();
      });
    };
    startSfu();
  }

  const workers = new Map<Worker, number>();
  const nodeRestarts = Array.from({ length: config.nodes }, () => restartBackoff());
  const startNode = (index: number) => {
    nodeRestarts[index]!.started();
    const worker = cluster.fork({
      ...shared,
      PARLEY_NODE_ID: `${base}-${index}`,
      PARLEY_NODE_INDEX: String(index),
      // Node 0 alone serves SIP over UDP (see above).
      PARLEY_SIP_UDP: index === 0 && config.sip.udp ? 'true' : 'false',
    });
    workers.set(worker, index);
  };
  cluster.on('exit', (worker, code, signal) => {
    const index = workers.get(worker);
    workers.delete(worker);
    if (stopping || index === undefined) return;
    const delayMs = nodeRestarts[index]!.nextDelayMs();
    logger.error({ node: `${base}-${index}`, code, signal, inMs: delayMs }, 'a gateway node exited; starting it again');
    setTimeout(() => startNode(index), delayMs).unref();
  });
  for (let i = 0; i < config.nodes; i++) startNode(i);
  logger.info({ nodes: config.nodes, sfu: Boolean(sfu) }, 'gateway nodes started');

  const stop = () => {
    if (stopping) return;
    stopping = true;
    for (const w of workers.keys()) w.process.kill('SIGTERM');
    sfu?.kill('SIGTERM');
    const done = () => {
      if (!workers.size && (!sfu || sfu.exitCode !== null || sfu.signalCode !== null)) process.exit(0);
    };
    cluster.on('exit', done);
    sfu?.on('exit', done);
    done();
    setTimeout(() => process.exit(1), 15_000).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
