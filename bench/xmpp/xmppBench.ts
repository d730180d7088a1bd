/**
 * XMPP benchmark (`npm run bench`), one gateway process on loopback, archive (MAM) on:
 *   - sessions/s: full logins (stream, SCRAM-SHA-1, bind, presence) over TCP and WebSocket;
 *   - RSS per idle session with 5,000 sessions open;
 *   - delivered messages/s between 50 pairs, each keeping one message in flight, with
 *     p50/p99 latency and the count of lost messages, over TCP and WebSocket;
 *   - presence fan-out time from one user to 200 online contacts.
 */
import { runOnBothStores, startBenchGateway, type BenchRow, type BenchStore } from '../support/benchEnv.js';
import { fanout, FANOUT, IDLE_SESSIONS, idleRss, messages, PAIRS, prepareRosters, primeClients, sessionsPerSecond, USERS } from './xmppScenarios.js';

/** Every figure, on one gateway whose records are on `store`. */
async function measure(store: BenchStore): Promise<BenchRow[]> {
  const gw = await startBenchGateway(USERS, { PARLEY_XMPP_RATE_STANZAS_PER_SECOND: '0', PARLEY_XMPP_MAX_SESSIONS_PER_USER: '20' }, prepareRosters, [], store);
  const out: BenchRow[] = [];
  await primeClients();
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
    'against a reference server in the same run: `npm run bench -- reference` (ejabberd 23.01, the same load client, ratios)',
    'targets: ≥ 1,500 sessions/s, ≤ 30 KiB per idle session, ≥ 12,000 msg/s TCP, ≥ 8,000 WS, 0 lost, fan-out ≤ 10 ms',
  ], measure);
