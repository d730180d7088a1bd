/**
 * SIP across two gateway nodes (real processes on one PostgreSQL and one Debian redis-server):
 * a device registered on node A is reached by a call placed on node B — B hands the INVITE to A,
 * which delivers it on the device's flow — and ACK and BYE follow the Record-Route of both
 * nodes. When A is killed, B stops offering A's bindings at once (480), instead of ringing into
 * a dead node until the registration expires.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freshPostgresDatabase } from '../../../server-common/test-support/postgresDatabase.js';
import { freeTcpUdpPort } from '../../../server-common/test-support/ports.js';
import { startRedisServer, type RedisServer } from '../../../server-common/test-support/redisServer.js';
import { GatewayProcess } from '../../test-support/gatewayProcess.js';
import { hasSipp, runSipp, sippCalls, sippRegister } from '../../test-support/sipp.js';
import { befriend, connect, isPresenceFrom } from '../../test-support/xmppClient.js';

const PASSWORD = 'sipp-secret-1';
let redis: RedisServer;
let a: GatewayProcess;
let b: GatewayProcess;

async function register(gw: GatewayProcess, user: string, contactPort: number): Promise<void> {
  const reg = await sippRegister(gw.sipPort, user, PASSWORD, contactPort, await freeTcpUdpPort());
  expect(reg.successful, reg.output).toBe(1);
}

describe.skipIf(!hasSipp())('SIP across gateway nodes', () => {
  beforeAll(async () => {
    redis = await startRedisServer();
    const databaseUrl = await freshPostgresDatabase('sipnodes');
    const env = (id: string) => ({ DATABASE_URL: databaseUrl, REDIS_URL: redis.url, PARLEY_NODE_ID: id, PARLEY_NODE_TTL_MS: '2000', PARLEY_LOGIN_MAX_FAILURES: '3' });
    a = new GatewayProcess({ env: env('node-a') });
    b = new GatewayProcess({ env: env('node-b') });
    await Promise.all([a.start(), b.start()]);
    a.addUser('alice', PASSWORD);
    a.addUser('bob', PASSWORD);
    a.addUser('carol', PASSWORD);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await redis?.stop();
  });

  it('a call placed on node B reaches the device registered on node A, and ends through both', async () => {
    const uasPort = await freeTcpUdpPort();
    await register(a, 'bob', uasPort);
    expect(await a.metric('sip_bindings')).toBe(1);
    expect(await b.metric('sip_bindings')).toBe(0); // A holds the flow; B only sees it in Redis

    const uas = runSipp({ scenario: 'uas-answer.xml', localPort: uasPort, calls: 3 });
    const uac = await sippCalls({ sipPort: b.sipPort, localPort: await freeTcpUdpPort(), caller: 'alice', password: PASSWORD, callee: 'bob', calls: 3 });
    const uasResult = await uas.done;
    expect(uac.failed, uac.output).toBe(0);
    expect(uac.successful, uac.output).toBe(3);
    // The UAS saw INVITE, ACK and BYE for every call: the in-dialog requests crossed both nodes.
    expect(uasResult.successful, uasResult.output).toBe(3);
    expect(await b.metric('sip_node_relays_sent_total')).toBe(3); // one INVITE per call went B → A
    expect(await a.metric('sip_node_relays_received_total')).toBe(3);
    expect(await b.metric('gateway_nodes')).toBe(2);
    expect(await b.metric('sip_proxy_contexts')).toBe(0);
    expect(await a.metric('sip_proxy_contexts')).toBe(0);
  });

  it('a call placed on node B shows its callee, chatting on node A, "in a call" to a contact on B', async () => {
    // bob's chat session is on A, his watcher carol on B; the call is proxied (and logged) by B.
    const bobChat = await connect(a, 'bob', PASSWORD, { resource: 'desk' });
    const carol = await connect(b, 'carol', PASSWORD, { resource: 'laptop' });
    await befriend(bobChat, 'bob@localhost', carol, 'carol@localhost');
    await carol.waitFor(isPresenceFrom('bob@localhost/desk'), 5000, 'bob available');
    const uasPort = await freeTcpUdpPort();
    await register(a, 'bob', uasPort);
    const uas = runSipp({ scenario: 'uas-answer.xml', localPort: uasPort, calls: 1 });
    const uac = sippCalls({ sipPort: b.sipPort, localPort: await freeTcpUdpPort(), caller: 'alice', password: PASSWORD, callee: 'bob', calls: 1, extra: ['-d', '3000'] });
    const inCall = await carol.waitFor((s) => isPresenceFrom('bob@localhost/desk')(s) && s.getChildText('status') === 'In a call', 5000, 'bob in a call');
    expect(inCall.getChildText('show')).toBe('dnd');
    carol.inbox.length = 0; // what came before the call is not "after" it
    expect((await uac).successful).toBe(1);
    await uas.done;
    const after = await carol.waitFor((s) => isPresenceFrom('bob@localhost/desk')(s) && s.getChildText('status') !== 'In a call', 5000, 'bob back');
    expect(after.getChildText('show') ?? undefined).toBeUndefined();
    await Promise.all([bobChat.stop(), carol.stop()]);
  });

  it('password guessing spread over both nodes is refused as soon as it would be on one', async () => {
    const login = (gw: GatewayProcess, password: string) =>
      fetch(`${gw.url}/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'alice', password }) });
    expect((await login(a, 'guess-1')).status).toBe(401);
    expect((await login(b, 'guess-2')).status).toBe(401);
    expect((await login(a, 'guess-3')).status).toBe(401);
    // Three failures in all: B refuses even the right password now (it heard of A's two). The
    // events travel through Redis a few milliseconds after A answered; a right password in that
    // moment would clear the count, so the test gives them that moment.
    await new Promise((r) => setTimeout(r, 250));
    expect((await login(b, PASSWORD)).status).toBe(429);
    expect((await login(a, PASSWORD)).status).toBe(429);
  });

  it('when the node holding the flow is killed, the other answers 480 at once', async () => {
    const uasPort = await freeTcpUdpPort();
    await register(a, 'bob', uasPort);
    await a.stop('SIGKILL');
    // The dead node's entry expires after PARLEY_NODE_TTL_MS (2 s here); B notices within a quarter of it.
    await new Promise((r) => setTimeout(r, 3000));
    const uac = await sippCalls({ sipPort: b.sipPort, localPort: await freeTcpUdpPort(), caller: 'alice', password: PASSWORD, callee: 'bob', calls: 1 });
    expect(uac.successful).toBe(0);
    expect(uac.output).toMatch(/480/);
  });
});
