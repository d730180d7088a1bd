/**
 * The XMPP half of `npm run bench -- reference`: ejabberd 23.01 and one Parley gateway under the
 * same load client and scenarios as `bench/xmpp`, taking turns (see referenceBench.ts), both on
 * one durable PostgreSQL server. Not on SQLite: ejabberd allows itself one SQLite connection, and
 * with every message archived it then manages some 450 messages/s — a figure about its SQLite
 * driver, not about the server a deployment would run (ejabberd's own advice is SQL for MAM).
 */
import Database from 'better-sqlite3';
import { startPostgresServer } from '../../server-common/test-support/postgresServer.js';
import { benchDatabase, startBenchGateway, treeCpuSeconds, treePssMb, type BenchStore } from '../support/benchEnv.js';
import { fanout, FANOUT, IDLE_SESSIONS, messages, PAIRS, prepareRosters, primeClients, scramRows, sessionsPerSecond, USERS, type XmppTarget } from '../xmpp/xmppScenarios.js';
import { ejabberdInstalled, startEjabberd } from './ejabberdServer.js';

interface Figures {
  sessionsTcp: number;
  sessionsWs: number;
  loginCpuMs: number;
  messagesTcp: number;
  messagesWs: number;
  messageCpuUs: number;
  lost: number;
  fanoutMs: number;
  /** PSS of the process tree with IDLE_SESSIONS sessions open, and with none. */
  pssMb: number;
  pssIdleMb: number;
}

async function load(target: XmppTarget): Promise<Figures> {
  const cpu = () => treeCpuSeconds(target.pid);
  const tcp = await sessionsPerSecond(target, 'tcp', 5000, 2000, cpu);
  const ws = await sessionsPerSecond(target, 'ws', 7000, 2000, cpu);
  const mt = await messages(target, 'tcp', cpu);
  const mw = await messages(target, 'ws', cpu);
  const f = await fanout(target);
  await new Promise((r) => setTimeout(r, 5000)); // the logins' garbage collected
  const pssIdleMb = treePssMb(target.pid);
  let pssMb = 0;
  await sessionsPerSecond(target, 'tcp', 3000, IDLE_SESSIONS, cpu, async () => {
    await new Promise((r) => setTimeout(r, 5000));
    pssMb = treePssMb(target.pid);
  });
  return {
    sessionsTcp: tcp.rate,
    sessionsWs: ws.rate,
    loginCpuMs: tcp.cpuMsEach,
    messagesTcp: mt.rate,
    messagesWs: mw.rate,
    messageCpuUs: mt.cpuUsEach,
    lost: mt.lost + mw.lost,
    fanoutMs: f.p50,
    pssMb,
    pssIdleMb,
  };
}

async function ejabberd(store: BenchStore, archive: boolean): Promise<Figures> {
  const server = await startEjabberd(USERS, { store, archive });
  try {
    return await load(server);
  } finally {
    await server.stop();
  }
}

async function parley(store: BenchStore): Promise<Figures> {
  const gw = await startBenchGateway(USERS, { PARLEY_XMPP_RATE_STANZAS_PER_SECOND: '0', PARLEY_XMPP_MAX_SESSIONS_PER_USER: '20' }, prepareRosters, [], store);
  try {
    return await load(gw);
  } finally {
    gw.stop();
    await new Promise((r) => setTimeout(r, 2000));
  }
}

function best(rounds: Figures[]): Figures {
  const max = (k: keyof Figures) => Math.max(...rounds.map((r) => r[k]));
  const min = (k: keyof Figures) => Math.min(...rounds.map((r) => r[k]));
  return {
    sessionsTcp: max('sessionsTcp'),
    sessionsWs: max('sessionsWs'),
    loginCpuMs: min('loginCpuMs'),
    messagesTcp: max('messagesTcp'),
    messagesWs: max('messagesWs'),
    messageCpuUs: min('messageCpuUs'),
    lost: max('lost'),
    fanoutMs: min('fanoutMs'),
    pssMb: min('pssMb'),
    pssIdleMb: min('pssIdleMb'),
  };
}

/** Runs both `rounds` times, taking turns, and prints the best round of each with the ratios. */
export async function xmppReference(rounds: number): Promise<void> {
  if (!ejabberdInstalled()) throw new Error('ejabberd is not installed (apt install ejabberd erlang-p1-pgsql)');
  // The load client knows every account's salted password, as a returning client does.
  const db = new Database(await benchDatabase(USERS), { readonly: true });
  scramRows.splice(0, scramRows.length, ...(db.prepare('SELECT username, scram_sha1 AS scram FROM accounts').all() as typeof scramRows));
  db.close();
  await primeClients();
  const postgres = await startPostgresServer({ durable: true });
  const store: BenchStore = { kind: 'postgres', serverUrl: postgres.url };
  const e: Figures[] = [];
  const bare: Figures[] = [];
  const p: Figures[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      e.push(await ejabberd(store, true));
      bare.push(await ejabberd(store, false));
      p.push(await parley(store));
    }
  } finally {
    await postgres.stop();
  }
  const [eb, pb] = [best(e), best(p)];
  const row = (label: string, pv: string, ev: string, ratio: string) => console.log(`  ${label.padEnd(52)} ${pv.padStart(24)} ${ev.padStart(24)} ${ratio.padStart(8)}`);
  const higher = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  const nb = best(bare);
  console.log(`\nXMPP: Parley (one gateway) against ejabberd 23.01, both on PostgreSQL 15 (durable), same load client${rounds > 1 ? `, best of ${rounds} rounds taking turns` : ''}`);
  row('', 'Parley', 'ejabberd', 'ratio');
  row('sessions/s, SCRAM-SHA-1 + bind + presence, TCP', `${pb.sessionsTcp.toFixed(0)} (${pb.loginCpuMs.toFixed(2)} ms CPU)`, `${eb.sessionsTcp.toFixed(0)} (${eb.loginCpuMs.toFixed(2)} ms CPU)`, higher(pb.sessionsTcp, eb.sessionsTcp));
  row('sessions/s, WebSocket', pb.sessionsWs.toFixed(0), eb.sessionsWs.toFixed(0), higher(pb.sessionsWs, eb.sessionsWs));
  row(`messages/s, ${PAIRS} pairs, archive on, TCP`, `${pb.messagesTcp.toFixed(0)} (${pb.messageCpuUs.toFixed(0)} µs CPU)`, `${eb.messagesTcp.toFixed(0)} (${eb.messageCpuUs.toFixed(0)} µs CPU)`, higher(pb.messagesTcp, eb.messagesTcp));
  row(`messages/s, ${PAIRS} pairs, archive on, WebSocket`, pb.messagesWs.toFixed(0), eb.messagesWs.toFixed(0), higher(pb.messagesWs, eb.messagesWs));
  row(`presence fan-out to ${FANOUT} (p50, lower is better)`, `${pb.fanoutMs.toFixed(1)} ms`, `${eb.fanoutMs.toFixed(1)} ms`, higher(pb.fanoutMs, eb.fanoutMs));
  row(`PSS of the process tree, ${IDLE_SESSIONS} sessions (none)`, `${pb.pssMb.toFixed(0)} MB (${pb.pssIdleMb.toFixed(0)})`, `${eb.pssMb.toFixed(0)} MB (${eb.pssIdleMb.toFixed(0)})`, `${(pb.pssMb / eb.pssMb).toFixed(1)}×`);
  console.log(`  ejabberd without an archive (Parley's archive stays on): messages/s TCP ${nb.messagesTcp.toFixed(0)} (${higher(pb.messagesTcp, nb.messagesTcp)}), WebSocket ${nb.messagesWs.toFixed(0)} (${higher(pb.messagesWs, nb.messagesWs)})`);
  console.log(`  lost messages: Parley ${pb.lost}, ejabberd ${Math.max(eb.lost, nb.lost)}`);
  console.log('  targets (issue 12): messages/s TCP and WebSocket ≥ 1.0× ejabberd; sessions/s ≥ 1.0× ejabberd');
}
