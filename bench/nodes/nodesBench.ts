/**
 * Several gateway nodes (`npm run bench -- nodes`): XMPP logins/s, messages/s (TCP, WebSocket),
 * presence fan-out, SIP digest REGISTER/s and the memory of 5,000 idle sessions, on one gateway
 * process against the same load on `PARLEY_NODES=2` (two nodes sharing one port, the cluster
 * module spreading connections, Redis between them), measured in the same run on one
 * PostgreSQL 15 (fsync on) and one redis-server — so the ratios, not the absolute figures, are
 * what to read (FIELD-NOTES: this machine's speed drifts from day to day).
 *
 *   1 node           DATABASE_URL only: what a single scaled-out gateway costs;
 *   1 node + Redis   the same with REDIS_URL (its node directory and bus, nobody to talk to);
 *   2 nodes          PARLEY_NODES=2: the cluster module's primary accepts every connection
 *                    and hands it to the nodes in turn, so most message pairs have their ends
 *                    on different nodes and their messages cross Redis;
 *   2 nodes, OS balancing   the same with NODE_CLUSTER_SCHED_POLICY=none: each node accepts
 *                    from the shared socket itself (no hand-over; the kernel decides who).
 *
 * The load client, PostgreSQL and Redis run on the same 2-core machine: with two nodes busy
 * everything competes for the cores, so rates here understate what nodes on machines of their
 * own would do. Gateway CPU is the primary's and every node's together.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPostgresServer, type PostgresServer } from '../../server-common/test-support/postgresServer.js';
import { startRedisServer, type RedisServer } from '../../server-common/test-support/redisServer.js';
import { SCENARIOS } from '../../gateway/test-support/sipp.js';
import { BENCH_PASSWORD, benchDatabase, startBenchGateway, treeCpuSeconds, treePssMb, type BenchGateway, type BenchRow } from '../support/benchEnv.js';
import { sipp } from '../sip/sippRunner.js';
import { fanout, FANOUT, messages, PAIRS, prepareRosters, primeClients, sessionsPerSecond, USERS } from '../xmpp/xmppScenarios.js';

const IDLE = 5000;

type Setup = '1 node' | '1 node + Redis' | '2 nodes' | '2 nodes, OS balancing';
const SETUPS: Setup[] = ['1 node', '1 node + Redis', '2 nodes', '2 nodes, OS balancing'];
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 2) || 2);

async function metric(gw: BenchGateway, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${gw.httpPort}/metrics`)).text();
  return Number(new RegExp(`^parley_${name} (\\d+)`, 'm').exec(text)?.[1] ?? NaN);
}

/** Digest REGISTER/s over one TCP connection per registration (so they spread over the nodes). */
async function registers(gw: BenchGateway, cpu: () => number): Promise<BenchRow> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-nodes-sipp-'));
  try {
    const csv = ['SEQUENTIAL', ...Array.from({ length: USERS }, (_, i) => `u${i};[authentication username=u${i} password=${BENCH_PASSWORD}];localhost;127.0.0.1:5999`)].join('\n');
    fs.writeFileSync(path.join(work, 'users.csv'), csv + '\n');
    const args = (n: number) => [`127.0.0.1:${gw.sipPort}`, '-t', 'tn', '-sf', path.join(SCENARIOS, 'register.xml'), '-inf', 'users.csv', '-m', String(n), '-r', '50000', '-l', '200', '-max_socket', '4000'];
    await sipp(args(1000), work).done; // warm-up
    const cpu0 = cpu();
    const run = await sipp(args(USERS), work).done;
    const used = cpu() - cpu0;
    return [
      `SIP REGISTER/s, digest, ${USERS} users, a TCP connection each`,
      `${run.rate.toFixed(0)}  (${run.successful} ok, ${run.failed} failed, ${((used / Math.max(1, run.successful)) * 1e6).toFixed(0)} µs gateway CPU each)`,
      run.rate,
    ];
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}

async function measure(setup: Setup, postgres: PostgresServer, redis: RedisServer): Promise<BenchRow[]> {
  const env: Record<string, string> = { PARLEY_XMPP_RATE_STANZAS_PER_SECOND: '0', PARLEY_XMPP_MAX_SESSIONS_PER_USER: '20', PARLEY_SIP_RATE_PER_IP: '0' };
  if (setup !== '1 node') env.REDIS_URL = redis.url;
  if (setup.startsWith('2 nodes')) env.PARLEY_NODES = '2';
  // Node's cluster module: the primary accepts and hands each connection on in turn (default),
  // or every node accepts from the shared socket and the kernel picks (`none`).
  if (setup === '2 nodes, OS balancing') env.NODE_CLUSTER_SCHED_POLICY = 'none';
  const gw = await startBenchGateway(USERS, env, prepareRosters, [], { kind: 'postgres', serverUrl: postgres.url });
  const cpu = () => treeCpuSeconds(gw.pid);
  const twoNodes = setup.startsWith('2 nodes');
  const rows: BenchRow[] = [];
  try {
    if (twoNodes) {
      // Both nodes up and aware of each other before the load starts.
      for (let i = 0; i < 100 && (await metric(gw, 'gateway_nodes').catch(() => NaN)) !== 2; i++) await new Promise((r) => setTimeout(r, 200));
    }
    let spread = '';
    const logins = await sessionsPerSecond(gw, 'tcp', 5000, 2000, cpu, async () => {
      if (!twoNodes) return;
      // Any node's /metrics tells its own sessions and the other's (its mirror).
      spread = `, sessions per node ${await metric(gw, 'xmpp_sessions')} + ${await metric(gw, 'xmpp_remote_sessions')}`;
    });
    rows.push(['XMPP logins/s, SCRAM-SHA-1 over TCP (100 in flight)', `${logins.rate.toFixed(0)}  (${logins.cpuMsEach.toFixed(2)} ms gateway CPU each${spread})`, logins.rate]);
    for (const transport of ['tcp', 'ws'] as const) {
      const m = await messages(gw, transport, cpu);
      rows.push([
        `XMPP messages/s, ${PAIRS} pairs, 1 in flight each, MAM on (${transport.toUpperCase()})`,
        `${m.rate.toFixed(0)}  p50 ${m.p50.toFixed(2)} ms, p99 ${m.p99.toFixed(2)} ms, lost ${m.lost} of ${m.sent}, ${m.cpuUsEach.toFixed(0)} µs gateway CPU each`,
        m.rate,
      ]);
    }
    const f = await fanout(gw);
    rows.push([`XMPP presence fan-out to ${FANOUT} contacts`, `p50 ${f.p50.toFixed(1)} ms, max ${f.max.toFixed(1)} ms`]);
    rows.push(await registers(gw, cpu));
    const before = treePssMb(gw.pid);
    await sessionsPerSecond(gw, 'tcp', 3000, IDLE, cpu, async () => {
      await new Promise((r) => setTimeout(r, 5000)); // login garbage collected
      const after = treePssMb(gw.pid);
      rows.push([`PSS of the gateway process tree, ${IDLE} idle XMPP sessions`, `${after.toFixed(0)} MB (${before.toFixed(0)} MB before them)`]);
    });
  } finally {
    gw.stop();
    await new Promise((r) => setTimeout(r, 2000)); // its nodes gone before the next setup starts
  }
  return rows;
}

async function main(): Promise<void> {
  const [postgres, redis] = await Promise.all([startPostgresServer({ durable: true }), startRedisServer()]);
  // The accounts' SCRAM salts (read while preparing the rosters, on a scratch copy), for the load client.
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-nodes-bench-'));
  fs.copyFileSync(await benchDatabase(USERS), path.join(scratch, 'parley.db'));
  await prepareRosters(path.join(scratch, 'parley.db'));
  fs.rmSync(scratch, { recursive: true, force: true });
  await primeClients();
  const results = new Map<Setup, BenchRow[][]>(SETUPS.map((s) => [s, []]));
  try {
    for (let round = 0; round < ROUNDS; round++) {
      // The setups take turns, so the machine's drift over minutes tilts none of them.
      for (const setup of SETUPS) {
        results.get(setup)!.push(await measure(setup, postgres, redis));
      }
    }
  } finally {
    await Promise.all([postgres.stop(), redis.stop()]);
  }
  // Per row, the setup's best round (rates: higher is better).
  const best = new Map<Setup, BenchRow[]>();
  for (const [setup, rounds] of results) {
    best.set(setup, rounds[0]!.map((first, i) => rounds.map((r) => r[i] ?? first).reduce((a, b) => ((b[2] ?? -Infinity) > (a[2] ?? -Infinity) ? b : a))));
  }
  for (const setup of SETUPS) {
    console.log(`\n${setup} (PostgreSQL 15, fsync on; best of ${ROUNDS} rounds, the setups taking turns)`);
    for (const [label, text] of best.get(setup)!) console.log(`  ${label.padEnd(62)} ${text}`);
  }
  console.log('\nAs a share of "1 node", same machine, same run');
  for (const [label, , figure] of best.get('1 node')!) {
    if (figure === undefined) continue;
    const parts = SETUPS.slice(1).map((setup) => {
      const other = best.get(setup)!.find((r) => r[0] === label)?.[2];
      return other === undefined ? '' : `${setup}: ${((other / figure) * 100).toFixed(0)}%`;
    });
    console.log(`  ${label.padEnd(62)} ${parts.filter(Boolean).join(', ')}`);
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
