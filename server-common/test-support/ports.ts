/**
 * Free loopback ports for test servers. Ports come from below the kernel's ephemeral range
 * (32768–60999 on Linux): a port the OS hands out for `listen(0)` can be taken a moment later by
 * any outgoing connection (a browser, a database client), which made a gateway fail to start with
 * EADDRINUSE in CI. Below that range only another listener can collide, and we check for that.
 */
import dgram from 'node:dgram';
import net from 'node:net';

const LOW = 20_000;
const HIGH = 32_000;
/** Ports already handed out by this process, so two servers in one test never get the same one. */
const given = new Set<number>();

function candidate(): number {
  for (;;) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (!given.has(port)) return port;
  }
}

function tcpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

async function pick(needUdp: boolean): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = candidate();
    if ((await tcpFree(port)) && (!needUdp || (await udpFree(port)))) {
      given.add(port);
      return port;
    }
  }
  throw new Error(`no free port between ${LOW} and ${HIGH}`);
}

export function freeTcpPort(): Promise<number> {
  return pick(false);
}

/** A port free for both TCP and UDP (SIP listens on both). */
export function freeTcpUdpPort(): Promise<number> {
  return pick(true);
}
