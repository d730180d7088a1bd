/**
 * The per-address request rate (PARLEY_SIP_RATE_PER_IP), over real sockets from a non-loopback
 * source address: requests beyond it get 503 with Retry-After; the other gateway nodes' TCP
 * connections (which carry many users' requests) are exempt; a datagram claiming a node's
 * address is not (UDP source addresses can be forged).
 *
 * The source address is an extra address on `lo` of the test command's own network namespace
 * (scripts/isolated.sh), so it is skipped outside of it.
 *
 * Also: with SIP_PORT=0 the UDP port is picked by the system and TCP must take the same number;
 * when that number is already taken for TCP both are picked again (in a namespace of its own whose
 * ephemeral range is two ports, so the collision happens every other time).
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import dgram from 'node:dgram';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from '../../../../server-common/logger.js';
import { TransportLayer } from './transportLayer.js';

const ADDRESS = '10.254.0.1';
const isolated = process.env.PARLEY_ISOLATED === '1';
const REQUESTS = 12;

function options(i: number): string {
  return [
    `OPTIONS sip:localhost SIP/2.0`,
    `Via: SIP/2.0/TCP ${ADDRESS}:5099;branch=z9hG4bK-rate-${i}-${Math.random().toString(36).slice(2)}`,
    'Max-Forwards: 70',
    'From: <sip:probe@localhost>;tag=rate',
    'To: <sip:localhost>',
    `Call-ID: rate-${i}@test`,
    `CSeq: ${i + 1} OPTIONS`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

/** Sends REQUESTS requests on one connection (or as datagrams) and counts the 503s that come back. */
async function burst(port: number, protocol: 'tcp' | 'udp'): Promise<{ refused: number; text: string }> {
  let received = '';
  const count503 = () => (received.match(/^SIP\/2\.0 503/gm) ?? []).length;
  if (protocol === 'tcp') {
    const socket = net.connect({ host: ADDRESS, port, localAddress: ADDRESS });
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    socket.on('data', (d) => (received += d.toString()));
    socket.write(Array.from({ length: REQUESTS }, (_, i) => options(i)).join(''));
    await new Promise((r) => setTimeout(r, 500));
    socket.destroy();
  } else {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, ADDRESS, resolve));
    socket.on('message', (d) => (received += d.toString()));
    for (let i = 0; i < REQUESTS; i++) socket.send(options(i).replace('SIP/2.0/TCP', 'SIP/2.0/UDP'), port, ADDRESS);
    await new Promise((r) => setTimeout(r, 500));
    socket.close();
  }
  return { refused: count503(), text: received };
}

describe.skipIf(!isolated)('SIP requests per source address', () => {
  let transport: TransportLayer;
  let exempt = false;
  let delivered = 0;

  beforeAll(async () => {
    execFileSync('ip', ['addr', 'add', `${ADDRESS}/32`, 'dev', 'lo']);
    transport = new TransportLayer({
      host: ADDRESS,
      port: 0,
      maxMessageBytes: 65_535,
      maxHeaders: 100,
      maxConnectionsPerIp: 10,
      ratePerIp: 2, // a burst of 4, then 2 per second
      exemptFromRate: () => exempt,
      logger: createLogger('silent'),
    });
    transport.on('request', () => delivered++);
    await transport.start();
  });

  afterAll(async () => {
    await transport?.stop();
    if (isolated) execFileSync('ip', ['addr', 'del', `${ADDRESS}/32`, 'dev', 'lo']);
  });

  it('a client over the limit gets 503 with Retry-After for the excess', async () => {
    exempt = false;
    delivered = 0;
    const { refused, text } = await burst(transport.port, 'tcp');
    expect(refused).toBeGreaterThan(0);
    expect(text).toMatch(/^Retry-After: 5\r$/m);
    expect(delivered).toBeGreaterThanOrEqual(4);
    expect(delivered + refused).toBe(REQUESTS);
  });

  it('another gateway node over TCP is not limited', async () => {
    exempt = true;
    delivered = 0;
    const { refused } = await burst(transport.port, 'tcp');
    expect(refused).toBe(0);
    expect(delivered).toBe(REQUESTS);
  });

  it('a datagram from a node’s address is limited all the same (UDP sources can be forged)', async () => {
    exempt = true;
    delivered = 0;
    const { refused } = await burst(transport.port, 'udp');
    expect(refused).toBeGreaterThan(0);
  });
});

const canUnshare = (() => {
  try {
    execFileSync('unshare', ['-n', 'true'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe.skipIf(!canUnshare)('a system-picked SIP port', () => {
  it('is picked again when its number is already taken for TCP', () => {
    const transportModule = fileURLToPath(new URL('./transportLayer.ts', import.meta.url));
    const loggerModule = fileURLToPath(new URL('../../../../server-common/logger.ts', import.meta.url));
    const probe = `
      import net from 'node:net';
      const { TransportLayer } = await import(${JSON.stringify(transportModule)});
      const { createLogger } = await import(${JSON.stringify(loggerModule)});
      const blocker = net.createServer();
      await new Promise((r) => blocker.listen(40000, '127.0.0.1', r));
      const ports = [];
      for (let i = 0; i < 8; i++) {
        const t = new TransportLayer({ host: '127.0.0.1', port: 0, maxMessageBytes: 65535, maxHeaders: 100, maxConnectionsPerIp: 10, ratePerIp: 100, logger: createLogger('silent') });
        await t.start();
        ports.push(t.port);
        await t.stop();
      }
      blocker.close();
      console.log(JSON.stringify(ports));
    `;
    const script = `ip link set lo up && sysctl -qw net.ipv4.ip_local_port_range="40000 40001" && exec "${process.execPath}" --import tsx --input-type=module -e "$0"`;
    const out = execFileSync('unshare', ['-n', 'sh', '-c', script, probe], { encoding: 'utf8', timeout: 60_000 });
    expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual(Array(8).fill(40001));
  });
});
