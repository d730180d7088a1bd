/**
 * PARLEY_NODES=2 as an operator starts it: one command, two gateway nodes sharing the machine's
 * HTTP, SIP and XMPP ports (plus one SFU node behind /sfu). Users land on both nodes and reach
 * each other; a node killed with -9 is started again while the other keeps serving; without
 * Redis and PostgreSQL it refuses to start and says what is missing.
 */
import { spawnSync } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPostgresDatabase } from '../../../server-common/test-support/postgresDatabase.js';
import { freeTcpUdpPort } from '../../../server-common/test-support/ports.js';
import { startRedisServer, type RedisServer } from '../../../server-common/test-support/redisServer.js';
import { GatewayProcess } from '../../test-support/gatewayProcess.js';
import { hasSipp, runSipp, sippCalls, sippRegister } from '../../test-support/sipp.js';
import { befriend, connect, isMessageFrom, isPresenceFrom, xml, type TestXmpp } from '../../test-support/xmppClient.js';
import type { GatewayNodeInfo } from './nodeDirectory.js';

const PASSWORD = 'two-nodes-secret';
const ROOT = path.resolve(import.meta.dirname, '../../..');
let redisServer: RedisServer;
let redis: Redis;
let gw: GatewayProcess;
const open: TestXmpp[] = [];

async function liveNodes(): Promise<GatewayNodeInfo[]> {
  const ids = await redis.smembers('parley:gw:nodes');
  const values = ids.length ? await redis.mget(ids.map((id) => `parley:gw:node:${id}`)) : [];
  return values.filter((v): v is string => Boolean(v)).map((v) => JSON.parse(v) as GatewayNodeInfo);
}

/** Which node answers /healthz on a new connection (fetch would reuse one, always the same node). */
function healthzNode(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => {
        let body = '';
        res.on('data', (d: Buffer) => (body += d.toString()));
        res.on('end', () => resolve((JSON.parse(body) as { node?: string }).node));
      })
      .on('error', () => resolve(undefined));
  });
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(!hasSipp())('PARLEY_NODES=2 on one machine', () => {
  beforeAll(async () => {
    redisServer = await startRedisServer();
    redis = new Redis(redisServer.url);
    const databaseUrl = await freshPostgresDatabase('twonodes');
    gw = new GatewayProcess({
      env: { PARLEY_NODES: '2', DATABASE_URL: databaseUrl, REDIS_URL: redisServer.url, PARLEY_NODE_TTL_MS: '2000', PARLEY_SFU_WORKERS: '1' },
    });
    await gw.start();
    for (const u of ['alice', 'bob']) gw.addUser(u, PASSWORD);
    // Both nodes serve: a node opens its HTTP port last (after XMPP, which waits for the other
    // nodes' sessions), and /healthz says which node answered.
    const answered = new Set<string>();
    for (let i = 0; i < 300 && answered.size < 2; i++) {
      const node = await healthzNode(gw.httpPort);
      if (node) answered.add(node);
      if (answered.size < 2) await new Promise((r) => setTimeout(r, 50));
    }
  }, 60_000);

  afterAll(async () => {
    for (const c of open) await c.stop();
    await gw?.stop();
    redis?.disconnect();
    await redisServer?.stop();
  });

  it('XMPP sessions on the one port are spread over both nodes and reach each other', async () => {
    expect((await liveNodes()).map((n) => n.id.slice(-2)).sort()).toEqual(['-0', '-1']);
    // The cluster module hands connections to the nodes in turn: four sessions, two per node.
    for (const r of ['one', 'two']) {
      open.push(await connect(gw, 'alice', PASSWORD, { resource: r }));
      open.push(await connect(gw, 'bob', PASSWORD, { resource: r }));
    }
    const [alice1, bob1, alice2, bob2] = open as [TestXmpp, TestXmpp, TestXmpp, TestXmpp];
    await befriend(alice1, 'alice@localhost', bob1, 'bob@localhost');
    // Whichever node answers /metrics holds two of the sessions and mirrors the other two.
    await expect.poll(async () => [await gw.metric('xmpp_sessions'), await gw.metric('xmpp_remote_sessions')], { timeout: 5000 }).toEqual([2, 2]);
    await bob2.waitFor(isPresenceFrom('alice@localhost/two'), 5000, 'alice/two');
    for (const [from, to, name] of [[alice1, bob2, 'bob@localhost/two'], [alice2, bob1, 'bob@localhost/one']] as const) {
      await from.xmpp.send(xml('message', { to: name, type: 'chat' }, xml('body', {}, `hi ${name}`)));
      await to.waitFor(isMessageFrom('alice@localhost/', `hi ${name}`), 5000, `the message to ${name}`);
    }
  });

  it('SIP: a phone registered over UDP (node 0) is called over TCP connections that land on either node', async () => {
    const uasPort = await freeTcpUdpPort();
    const reg = await sippRegister(gw.sipPort, 'bob', PASSWORD, uasPort, await freeTcpUdpPort());
    expect(reg.successful, reg.output).toBe(1);
    const uas = runSipp({ scenario: 'uas-answer.xml', localPort: uasPort, calls: 4 });
    // One TCP connection per call: the cluster module gives them to the nodes in turn.
    const uac = await sippCalls({ sipPort: gw.sipPort, localPort: await freeTcpUdpPort(), caller: 'alice', password: PASSWORD, callee: 'bob', calls: 4, extra: ['-t', 'tn', '-max_socket', '100', '-d', '200'] });
    expect(uac.successful, uac.output).toBe(4);
    expect((await uas.done).successful).toBe(4);
  });

  it('/sfu on the shared port reaches the one SFU node', async () => {
    const statusLine = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(gw.httpPort, '127.0.0.1', () =>
        socket.write(
          'GET /sfu HTTP/1.1\r\nHost: localhost\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
        ),
      );
      socket.once('data', (d) => {
        resolve(d.toString().split('\r\n')[0]!);
        socket.destroy();
      });
      socket.once('error', reject);
    });
    // The SFU's own answer (it accepts the WebSocket; the join token is asked for inside), not a 404 or 502 of the gateway.
    expect(statusLine).toMatch(/^HTTP\/1\.1 101/);
    expect((await redis.keys('parley:{registry}:node:*')).length).toBe(1);
  });

  it('kill -9 of one node: the other keeps serving, and the dead one is started again', async () => {
    // (xmpp.js reports a connection reset by a killed server as an unhandled rejection: the
    // earlier clients leave first.)
    for (const c of open.splice(0)) await c.stop();
    const nodes = await liveNodes();
    const victim = nodes.find((n) => n.id.endsWith('-1'))!;
    process.kill(victim.pid, 'SIGKILL');
    // Once the launcher has reaped it, it hands it no more connections.
    await expect.poll(() => isRunning(victim.pid), { timeout: 5000 }).toBe(false);
    // Its users' clients lost their connection; connecting again is served at once.
    const again = await connect(gw, 'alice', PASSWORD, { resource: 'after-kill' });
    expect(again.jid).toBe('alice@localhost/after-kill');
    open.push(again);
    await expect.poll(async () => (await liveNodes()).find((n) => n.id === victim.id)?.pid ?? victim.pid, { timeout: 15_000 }).not.toBe(victim.pid);
    expect((await liveNodes()).length).toBe(2);
  }, 30_000);

  it('refuses to start several nodes without Redis and PostgreSQL, saying what is missing', () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, 'build/gateway/src/main.js')], {
      env: { ...process.env, PARLEY_NODES: '2', REDIS_URL: '', DATABASE_URL: '', PARLEY_DATA: gw.dataDir },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/REDIS_URL=redis:\/\/.*DATABASE_URL=postgres:\/\//s);
  });
});
