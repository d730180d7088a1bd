/**
 * An in-process SFU node for integration tests: one mediasoup worker on loopback, the /sfu
 * endpoint on a free port, an in-memory conference registry, and a signing key so tests issue
 * join tokens the way a gateway would.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ParticipantRole } from '../../contracts/sfu/signalling.js';
import { issueJoinToken } from '../../server-common/joinToken.js';
import { createLogger } from '../../server-common/logger.js';
import { loadSfuConfig, SfuNode } from '../src/index.js';
import { MemoryConferenceRegistry } from '../src/registry/index.js';

export interface TestSfuNode {
  node: SfuNode;
  registry: MemoryConferenceRegistry;
  /** ws://127.0.0.1:<port>/sfu */
  url: string;
  /** A join token for this node (or, with `nodeId`, for another one). */
  token(claims: { conference: string; userId: string; displayName?: string; role?: ParticipantRole; nodeId?: string }): Promise<string>;
  /** A token signed with a key the node does not know (a forgery). */
  forgedToken(conference: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startTestSfuNode(env: Record<string, string> = {}): Promise<TestSfuNode> {
  const config = loadSfuConfig({
    PARLEY_SFU_WORKERS: '1',
    PARLEY_SFU_LISTEN_IP: '127.0.0.1',
    PARLEY_SFU_RTC_PORT: '0',
    PARLEY_SFU_EMPTY_GRACE_SECONDS: '0',
    ...env,
  });
  const server = http.createServer((_req, res) => res.writeHead(404).end());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  const key = new Uint8Array(crypto.randomBytes(32));
  const registry = new MemoryConferenceRegistry();
  const node = new SfuNode({
    config,
    nodeId: `test-sfu-${port}`,
    url: `ws://127.0.0.1:${port}/sfu`,
    registry,
    tokenKey: key,
    logger: createLogger(process.env.PARLEY_LOG_LEVEL ?? 'silent'),
  });
  server.on('upgrade', (req, socket, head) => node.handleUpgrade(req, socket, head));
  await node.start();
  const sign = (claims: Parameters<TestSfuNode['token']>[0], signingKey: Uint8Array) =>
    issueJoinToken(
      {
        conference: claims.conference,
        nodeId: claims.nodeId ?? node.id,
        userId: claims.userId,
        displayName: claims.displayName ?? claims.userId,
        role: claims.role ?? 'member',
      },
      signingKey,
      60,
    );
  return {
    node,
    registry,
    url: `ws://127.0.0.1:${port}/sfu`,
    token: (claims) => sign(claims, key),
    forgedToken: (conference) => sign({ conference, userId: 'mallory@localhost', role: 'owner' }, new Uint8Array(32).fill(7)),
    async stop() {
      await node.stop();
      await registry.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
