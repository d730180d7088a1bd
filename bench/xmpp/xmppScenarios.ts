/**
 * XMPP load scenarios shared by the benchmarks (`bench/xmpp`, `bench/nodes`): the rosters they
 * need, logins per second, and messages per second between pairs with one in flight each.
 */
import path from 'node:path';
import { BENCH_PASSWORD, cpuSeconds, percentile, pool, rssMb, withBenchSqlite, type BenchGateway } from '../support/benchEnv.js';

/** What the scenarios load: a Parley gateway or a reference server (its c2s port, its WebSocket `/xmpp` port, its process). */
export type XmppTarget = Pick<BenchGateway, 'pid' | 'xmppPort' | 'httpPort'>;
import { LoadClient, primeSaltedPassword } from './loadClient.js';

export const USERS = 10_000;
export const PAIRS = 50;
export const FANOUT = 200;
export const IDLE_SESSIONS = Number(process.env.BENCH_IDLE_SESSIONS ?? 5000);
const MESSAGE_SECONDS = 8;

export const scramRows: Array<{ username: string; scram: string }> = [];

/**
 * Rosters for the scenarios: pairs u1000+2k ↔ u1001+2k, and a hub u2000 with contacts
 * u2001…u2200. Also reads the SCRAM salts, so the load client can prime its password cache.
 */
export function prepareRosters(dbFile: string): Promise<void> {
  return withBenchSqlite(path.dirname(dbFile), (db) => prepareRostersOn(db));
}

function prepareRostersOn(db: import('better-sqlite3').Database): void {
  scramRows.length = 0;
  scramRows.push(...(db.prepare('SELECT username, scram_sha1 AS scram FROM accounts').all() as typeof scramRows));
  const insert = db.prepare("INSERT OR REPLACE INTO roster (owner, contact, subscription, in_roster) VALUES (?, ?, 'both', 1)");
  db.transaction(() => {
    for (const [owner, contact] of rosterItems()) insert.run(owner, contact);
  })();
}

/** Every roster item the scenarios need, as [owner's user name, contact's bare JID], both directions. */
export function rosterItems(): Array<[string, string]> {
  const items: Array<[string, string]> = [];
  const mutual = (a: string, b: string) => items.push([a, `${b}@localhost`], [b, `${a}@localhost`]);
  for (let k = 0; k < PAIRS; k++) mutual(`u${1000 + 2 * k}`, `u${1001 + 2 * k}`);
  for (let i = 1; i <= FANOUT; i++) mutual('u2000', `u${2000 + i}`);
  return items;
}

const portOf = (gw: XmppTarget, transport: 'tcp' | 'ws') => (transport === 'tcp' ? gw.xmppPort : gw.httpPort);

export async function login(gw: XmppTarget, transport: 'tcp' | 'ws', user: number, resource = 'bench'): Promise<LoadClient> {
  return LoadClient.connect({ transport, port: portOf(gw, transport), username: `u${user}`, password: BENCH_PASSWORD, resource });
}

/** `cpu` reads the gateway's CPU seconds (all its processes, when there are several). */
export async function sessionsPerSecond(
  gw: XmppTarget,
  transport: 'tcp' | 'ws',
  first: number,
  n: number,
  cpu: () => number = () => cpuSeconds(gw.pid),
  /** Runs while all `n` sessions are open. */
  whileOpen?: () => Promise<void>,
): Promise<{ rate: number; cpuMsEach: number }> {
  const clients: LoadClient[] = [];
  // Warm the client's salted-password cache and the server's JIT outside the measurement.
  await pool(200, 50, async (i) => void (await login(gw, transport, first + i, 'warm')).close());
  const cpu0 = cpu();
  const t0 = performance.now();
  await pool(n, 100, async (i) => {
    const c = await login(gw, transport, first + i);
    c.presence();
    clients.push(c);
  });
  const seconds = (performance.now() - t0) / 1000;
  const used = cpu() - cpu0;
  await whileOpen?.();
  for (const c of clients) c.close();
  return { rate: n / seconds, cpuMsEach: (used / n) * 1000 };
}

export async function idleRss(gw: XmppTarget): Promise<{ perSessionKiB: number; before: number; after: number }> {
  await new Promise((r) => setTimeout(r, 7000)); // earlier runs' garbage collected (memory reducer)
  const before = rssMb(gw.pid);
  const clients: LoadClient[] = [];
  await pool(IDLE_SESSIONS, 100, async (i) => {
    const c = await login(gw, 'tcp', 3000 + i, 'idle');
    c.presence();
    clients.push(c);
  });
  await new Promise((r) => setTimeout(r, 7000)); // login garbage collected; what stays is per session
  const after = rssMb(gw.pid);
  for (const c of clients) c.close();
  return { perSessionKiB: ((after - before) * 1024) / IDLE_SESSIONS, before, after };
}

export async function messages(gw: XmppTarget, transport: 'tcp' | 'ws', cpu: () => number = () => cpuSeconds(gw.pid)): Promise<{ rate: number; p50: number; p99: number; lost: number; sent: number; cpuUsEach: number }> {
  const pairs: Array<[LoadClient, LoadClient]> = [];
  for (let k = 0; k < PAIRS; k++) {
    const a = await login(gw, transport, 1000 + 2 * k, `m${transport}`);
    const b = await login(gw, transport, 1001 + 2 * k, `m${transport}`);
    a.presence();
    b.presence();
    pairs.push([a, b]);
  }
  await new Promise((r) => setTimeout(r, 500));
  let sent = 0;
  let received = 0;
  let running = true;
  const latencies: number[] = [];
  const cpu0 = cpu();
  const t0 = performance.now();
  for (const [a, b] of pairs) {
    const to = b.jid;
    const sendNext = () => {
      if (!running) return;
      sent++;
      a.message(to, String(performance.now()));
    };
    b.onMessage = (body) => {
      received++;
      latencies.push(performance.now() - Number(body));
      sendNext();
    };
    sendNext();
  }
  await new Promise((r) => setTimeout(r, MESSAGE_SECONDS * 1000));
  running = false;
  const seconds = (performance.now() - t0) / 1000;
  const used = cpu() - cpu0;
  await new Promise((r) => setTimeout(r, 1500)); // the last in-flight messages arrive
  for (const [a, b] of pairs) {
    a.close();
    b.close();
  }
  latencies.sort((x, y) => x - y);
  return { rate: received / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), lost: sent - received, sent, cpuUsEach: (used / Math.max(1, received)) * 1e6 };
}

export async function fanout(gw: XmppTarget): Promise<{ p50: number; max: number }> {
  const contacts: LoadClient[] = [];
  await pool(FANOUT, 50, async (i) => {
    const c = await login(gw, 'tcp', 2001 + i, 'fan');
    c.presence();
    contacts.push(c);
  });
  const hub = await login(gw, 'tcp', 2000, 'hub');
  hub.presence();
  await new Promise((r) => setTimeout(r, 1000));
  const times: number[] = [];
  for (let round = 0; round < 7; round++) {
    let got = 0;
    const t0 = performance.now();
    const done = new Promise<number>((resolve) => {
      for (const c of contacts) {
        c.onPresence = (from) => {
          if (from.startsWith('u2000@localhost/') && ++got === FANOUT) resolve(performance.now() - t0);
        };
      }
    });
    hub.presence(`<status>round ${round}</status>`);
    times.push(await done);
    await new Promise((r) => setTimeout(r, 200));
  }
  hub.close();
  for (const c of contacts) c.close();
  const sorted = times.slice(2).sort((a, b) => a - b); // first rounds warm the JIT
  return { p50: percentile(sorted, 50), max: sorted[sorted.length - 1] };
}

/** What a returning client already knows (salted passwords); otherwise the load generator, not the server, is measured. */
export async function primeClients(): Promise<void> {
  await pool(scramRows.length, 8, async (i) => {
    const { salt, iterations } = JSON.parse(scramRows[i].scram) as { salt: string; iterations: number };
    await primeSaltedPassword(scramRows[i].username, BENCH_PASSWORD, salt, iterations);
  });
}
