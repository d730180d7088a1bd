/**
 * XMPP benchmark (`npm run bench`), one gateway process on loopback, archive (MAM) on:
 *   - sessions/s: full logins (stream, SCRAM-SHA-1, bind, presence) over TCP and WebSocket;
 *   - RSS per idle session with 5,000 sessions open;
 *   - delivered messages/s between 50 pairs, each keeping one message in flight, with
 *     p50/p99 latency and the count of lost messages, over TCP and WebSocket;
 *   - presence fan-out time from one user to 200 online contacts.
 */
import path from 'node:path';
import { BENCH_PASSWORD, cpuSeconds, percentile, pool, runOnBothStores, rssMb, startBenchGateway, withBenchSqlite, type BenchGateway, type BenchRow, type BenchStore } from '../support/benchEnv.js';
import { LoadClient, primeSaltedPassword } from './loadClient.js';

const USERS = 10_000;
const PAIRS = 50;
const FANOUT = 200;
const IDLE_SESSIONS = Number(process.env.BENCH_IDLE_SESSIONS ?? 5000);
const MESSAGE_SECONDS = 8;

const scramRows: Array<{ username: string; scram: string }> = [];

/**
 * Rosters for the scenarios: pairs u1000+2k ↔ u1001+2k, and a hub u2000 with contacts
 * u2001…u2200. Also reads the SCRAM salts, so the load client can prime its password cache.
 */
function prepareRosters(dbFile: string): Promise<void> {
  return withBenchSqlite(path.dirname(dbFile), (db) => prepareRostersOn(db));
}

function prepareRostersOn(db: import('better-sqlite3').Database): void {
  scramRows.length = 0;
  scramRows.push(...(db.prepare('SELECT username, scram_sha1 AS scram FROM accounts').all() as typeof scramRows));
  const insert = db.prepare("INSERT OR REPLACE INTO roster (owner, contact, subscription, in_roster) VALUES (?, ?, 'both', 1)");
  db.transaction(() => {
    for (let k = 0; k < PAIRS; k++) {
      const a = `u${1000 + 2 * k}`;
      const b = `u${1001 + 2 * k}`;
      insert.run(a, `${b}@localhost`);
      insert.run(b, `${a}@localhost`);
    }
    for (let i = 1; i <= FANOUT; i++) {
      insert.run('u2000', `u${2000 + i}@localhost`);
      insert.run(`u${2000 + i}`, 'u2000@localhost');
    }
  })();
}

const portOf = (gw: BenchGateway, transport: 'tcp' | 'ws') => (transport === 'tcp' ? gw.xmppPort : gw.httpPort);

async function login(gw: BenchGateway, transport: 'tcp' | 'ws', user: number, resource = 'bench'): Promise<LoadClient> {
  return LoadClient.connect({ transport, port: portOf(gw, transport), username: `u${user}`, password: BENCH_PASSWORD, resource });
}

async function sessionsPerSecond(gw: BenchGateway, transport: 'tcp' | 'ws', first: number, n: number): Promise<{ rate: number; cpuMsEach: number }> {
  const clients: LoadClient[] = [];
  // Warm the client's salted-password cache and the server's JIT outside the measurement.
  await pool(200, 50, async (i) => void (await login(gw, transport, first + i, 'warm')).close());
  const cpu0 = cpuSeconds(gw.pid);
  const t0 = performance.now();
  await pool(n, 100, async (i) => {
    const c = await login(gw, transport, first + i);
    c.presence();
    clients.push(c);
  });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(gw.pid) - cpu0;
  for (const c of clients) c.close();
  return { rate: n / seconds, cpuMsEach: (cpu / n) * 1000 };
}

async function idleRss(gw: BenchGateway): Promise<{ perSessionKiB: number; before: number; after: number }> {
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

async function messages(gw: BenchGateway, transport: 'tcp' | 'ws'): Promise<{ rate: number; p50: number; p99: number; lost: number; sent: number; cpuUsEach: number }> {
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
  const cpu0 = cpuSeconds(gw.pid);
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
  const cpu = cpuSeconds(gw.pid) - cpu0;
  await new Promise((r) => setTimeout(r, 1500)); // the last in-flight messages arrive
  for (const [a, b] of pairs) {
    a.close();
    b.close();
  }
  latencies.sort((x, y) => x - y);
  return { rate: received / seconds, p50: percentile(latencies, 50), p99: percentile(latencies, 99), lost: sent - received, sent, cpuUsEach: (cpu / Math.max(1, received)) * 1e6 };
}

async function fanout(gw: BenchGateway): Promise<{ p50: number; max: number }> {
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

/** Every figure, on one gateway whose records are on `store`. */
async function measure(store: BenchStore): Promise<BenchRow[]> {
  const gw = await startBenchGateway(USERS, { PARLEY_XMPP_RATE_STANZAS_PER_SECOND: '0', PARLEY_XMPP_MAX_SESSIONS_PER_USER: '20' }, prepareRosters, [], store);
  const out: BenchRow[] = [];
  // What a returning client already knows; otherwise the load generator, not the server, is measured.
  await pool(scramRows.length, 8, async (i) => {
    const { salt, iterations } = JSON.parse(scramRows[i].scram) as { salt: string; iterations: number };
    await primeSaltedPassword(scramRows[i].username, BENCH_PASSWORD, salt, iterations);
  });
  try {
    const tcp = await sessionsPerSecond(gw, 'tcp', 5000, 2000);
    out.push(['sessions/s, SCRAM-SHA-1 over TCP (100 logins in flight)', `${tcp.rate.toFixed(0)}  (${tcp.cpuMsEach.toFixed(2)} ms gateway CPU per login)`, tcp.rate]);
    const ws = await sessionsPerSecond(gw, 'ws', 7000, 2000);
    out.push(['sessions/s, SCRAM-SHA-1 over WebSocket', `${ws.rate.toFixed(0)}  (${ws.cpuMsEach.toFixed(2)} ms gateway CPU per login)`, ws.rate]);
    const idle = await idleRss(gw);
    out.push([`RSS per idle session (${IDLE_SESSIONS} sessions)`, `${idle.perSessionKiB.toFixed(1)} KiB  (RSS ${idle.before.toFixed(0)} → ${idle.after.toFixed(0)} MB)`]);
    for (const transport of ['tcp', 'ws'] as const) {
      const m = await messages(gw, transport);
      out.push([
        `messages/s, ${PAIRS} pairs, 1 in flight each, MAM on (${transport.toUpperCase()})`,
        `${m.rate.toFixed(0)}  p50 ${m.p50.toFixed(2)} ms, p99 ${m.p99.toFixed(2)} ms, lost ${m.lost} of ${m.sent}, ${m.cpuUsEach.toFixed(0)} µs gateway CPU each`,
        m.rate,
      ]);
    }
    const f = await fanout(gw);
    out.push([`presence fan-out to ${FANOUT} contacts`, `p50 ${f.p50.toFixed(1)} ms, max ${f.max.toFixed(1)} ms (until the last contact has it)`]);
  } finally {
    gw.stop();
  }
  return out;
}

runOnBothStores('XMPP benchmark (one gateway process, load client on loopback)', [
    'reference on this machine: Prosody 0.12 ~900 sessions/s, ~34 KiB/session, ~9,200 msg/s TCP (~6,400 WS), fan-out ~10 ms',
    'targets: ≥ 1,500 sessions/s, ≤ 30 KiB per idle session, ≥ 12,000 msg/s TCP, ≥ 8,000 WS, 0 lost, fan-out ≤ 10 ms',
  ], measure);
