/**
 * A real HAProxy (Debian's `haproxy`, installed by the test command) in front of several
 * servers on loopback, configured as an operator would put it in front of gateway nodes:
 * - `http` frontends: HTTP and WebSocket, sticky by a cookie the proxy inserts (`PARLEY_NODE`,
 *   the server's name), health-checked on /healthz; when the chosen server is down the request
 *   goes to another (`option redispatch`), so a client that had one comes back on a live one.
 * - `tcp` frontends: plain TCP (XMPP c2s, SIP over TCP), round-robin, connect-checked.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { freeTcpPort } from './ports.js';

export interface HaproxyServer {
  /** Also the value of the `PARLEY_NODE` cookie that pins a client to it (http frontends). */
  name: string;
  port: number;
}

export interface HaproxyFrontend {
  name: string;
  mode: 'http' | 'tcp';
  servers: HaproxyServer[];
  /** The port to listen on (a free one when absent). */
  port?: number;
}

export interface Haproxy {
  /** Listening port of each frontend, by name. */
  ports: Record<string, number>;
  readonly output: string;
  stop(): Promise<void>;
}

export const STICKY_COOKIE = 'PARLEY_NODE';

export function hasHaproxy(): boolean {
  return spawnSync('haproxy', ['-v'], { stdio: 'ignore' }).status === 0;
}

export async function startHaproxy(frontends: HaproxyFrontend[]): Promise<Haproxy> {
  const ports: Record<string, number> = {};
  for (const f of frontends) ports[f.name] = f.port ?? (await freeTcpPort());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-haproxy-'));
  const file = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(file, config(frontends, ports));
  const check = spawnSync('haproxy', ['-c', '-q', '-f', file], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`haproxy refused its configuration:\n${check.stderr}${check.stdout}`);
  // -db: stay in the foreground, log to stderr.
  const child: ChildProcess = spawn('haproxy', ['-db', '-f', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`haproxy exited:\n${output}`);
    const listening = await Promise.all(Object.values(ports).map(accepts));
    if (listening.every(Boolean)) break;
    if (i > 100) throw new Error(`haproxy did not start listening:\n${output}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    ports,
    get output() {
      return output;
    },
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function config(frontends: HaproxyFrontend[], ports: Record<string, number>): string {
  const lines = [
    'global',
    '  maxconn 4096',
    'defaults',
    '  timeout connect 2s',
    // Long-lived WebSocket and TCP sessions: the clients' own keepalives decide when they are dead.
    '  timeout client 1h',
    '  timeout server 1h',
    '  timeout tunnel 1h',
    '  retries 2',
    '  option redispatch',
  ];
  for (const f of frontends) {
    lines.push(`frontend ${f.name}`, `  mode ${f.mode}`, `  bind 127.0.0.1:${ports[f.name]}`, `  default_backend ${f.name}`);
    lines.push(`backend ${f.name}`, `  mode ${f.mode}`, '  balance roundrobin');
    if (f.mode === 'http') {
      lines.push(`  cookie ${STICKY_COOKIE} insert indirect nocache`, '  option httpchk GET /healthz', '  http-check expect status 200');
    }
    for (const s of f.servers) {
      const cookie = f.mode === 'http' ? ` cookie ${s.name}` : '';
      lines.push(`  server ${s.name} 127.0.0.1:${s.port} check inter 500 fall 2 rise 2${cookie}`);
    }
  }
  return lines.join('\n') + '\n';
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('error', () => resolve(false));
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
  });
}
