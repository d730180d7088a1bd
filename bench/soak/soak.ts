/**
 * `npm run soak [-- --minutes N]` (default 10): one gateway process under everything at once,
 * on loopback, for a bounded time —
 *   - 10,000 SIP users keeping their registrations fresh (sipp, digest, one refresh a minute),
 *   - 2,000 XMPP sessions in 1,000 pairs of contacts chatting, every message with a delivery
 *     receipt (XEP-0184),
 *   - 50 calls a second through the proxy (sipp UAC → gateway → sipp UAS, 1 s each),
 *   - three meetings people keep joining and leaving (mediasoup-client participants with a mic).
 * Every 30 s it prints the gateway's RSS, open file descriptors and live state; at the end
 * messages sent / delivered / lost (lost must be 0), receipts, failed REGISTERs and calls,
 * p99 latencies, and RSS and descriptors at the start and after the load stopped.
 * Exits 1 if anything was lost or failed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SCENARIOS } from '../../gateway/test-support/sipp.js';
import { freeTcpUdpPort } from '../../server-common/test-support/ports.js';
import { signIn } from '../../server-common/test-support/restClient.js';
import { SfuTestClient } from '../../server-common/test-support/sfuTestClient.js';
import { BENCH_PASSWORD, percentile, pool, rssMb, startBenchGateway, withBenchSqlite, type BenchGateway } from '../support/benchEnv.js';
import { LoadClient } from '../xmpp/loadClient.js';

const USERS = 10_000;
const XMPP_PAIRS = 1000;
const CALLS_PER_SECOND = 50;
const REFRESH_SECONDS = 60;
const MEETINGS = 3;
const MEETING_SIZE = 4;

const minutesArg = process.argv.indexOf('--minutes');
const MINUTES = Number(minutesArg >= 0 ? process.argv[minutesArg + 1] : (process.env.SOAK_MINUTES ?? 10));
if (!Number.isFinite(MINUTES) || MINUTES <= 0) throw new Error('--minutes needs a positive number');
const DURATION_MS = MINUTES * 60_000;

function openFds(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

async function metrics(gw: BenchGateway): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${gw.httpPort}/metrics`)).text();
  return Object.fromEntries([...text.matchAll(/^(parley_\w+) (\S+)$/gm)].map((m) => [m[1].replace(/^parley_/, ''), Number(m[2])]));
}

/** sipp in the background; resolves with its counts and the rtt samples of `rtd` when it ends. */
function sipp(args: string[], cwd: string, rtd?: string): { proc: ChildProcess; done: Promise<{ ok: number; failed: number; rtt: number[] }> } {
  const proc = spawn('sipp', [...args, '-i', '127.0.0.1', '-nostdin', '-timeout', `${MINUTES * 60 + 120}s`, ...(rtd ? ['-trace_rtt', '-rtt_freq', '1'] : [])], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out = (out + d).slice(-200_000)));
  proc.stderr!.on('data', (d) => (out = (out + d).slice(-200_000)));
  const done = new Promise<{ ok: number; failed: number; rtt: number[] }>((resolve) =>
    proc.on('close', () => {
      const num = (label: string) => Number(new RegExp(`${label}\\s*\\|\\s*\\d+\\s*\\|\\s*(\\d+)`).exec(out)?.[1] ?? 0);
      const rttFile = rtd ? fs.readdirSync(cwd).find((f) => f.endsWith('_rtt.csv')) : undefined;
      const rtt = rttFile
        ? fs
            .readFileSync(path.join(cwd, rttFile), 'utf8')
            .split('\n')
            .slice(1)
            .filter((l) => l.includes(rtd!))
            .map((l) => Number(l.split(';')[1]))
            .filter(Number.isFinite)
        : [];
      resolve({ ok: num('Successful call'), failed: num('Failed call'), rtt });
    }),
  );
  return { proc, done };
}

/** Pairs u(2k) ↔ u(2k+1) are mutual contacts (strangers may not message each other). */
function prepareContacts(dbFile: string): Promise<void> {
  return withBenchSqlite(path.dirname(dbFile), (db) => {
    const insert = db.prepare("INSERT OR REPLACE INTO roster (owner, contact, subscription, in_roster) VALUES (?, ?, 'both', 1)");
  db.transaction(() => {
    for (let k = 0; k < XMPP_PAIRS; k++) {
      insert.run(`u${2 * k}`, `u${2 * k + 1}@localhost`);
      insert.run(`u${2 * k + 1}`, `u${2 * k}@localhost`);
    }
    })();
  });
}

interface Chat {
  sent: number;
  delivered: number;
  receipts: number;
  latencies: number[];
  pendingReceipts: Set<string>;
  undelivered: Set<string>;
}

async function startChat(gw: BenchGateway, until: number): Promise<{ chat: Chat; clients: LoadClient[]; done: Promise<void> }> {
  const chat: Chat = { sent: 0, delivered: 0, receipts: 0, latencies: [], pendingReceipts: new Set(), undelivered: new Set() };
  const clients: LoadClient[] = new Array(XMPP_PAIRS * 2);
  await pool(XMPP_PAIRS * 2, 50, async (i) => {
    const c = await LoadClient.connect({ transport: i % 4 < 2 ? 'tcp' : 'ws', port: i % 4 < 2 ? gw.xmppPort : gw.httpPort, username: `u${i}`, password: BENCH_PASSWORD, resource: 'soak' });
    c.onMessage = (body, from, id) => {
      const [, sentAt, key] = /^(\d+):(.+)$/.exec(body) ?? [];
      if (key && chat.undelivered.delete(key)) {
        chat.delivered++;
        chat.latencies.push(Date.now() - Number(sentAt));
      }
      if (id) c.receipt(from, id);
    };
    c.onReceipt = (id) => {
      if (chat.pendingReceipts.delete(id)) chat.receipts++;
    };
    c.presence();
    clients[i] = c;
  });
  // Each of the 2,000 sends to its partner every 10 s (jittered): 200 messages a second.
  let seq = 0;
  const done = (async () => {
    while (Date.now() < until) {
      const started = Date.now();
      for (let i = 0; i < clients.length; i++) {
        const key = `${i}-${seq}`;
        chat.undelivered.add(key);
        chat.pendingReceipts.add(key);
        clients[i].messageWithReceipt(`u${i ^ 1}@localhost`, key, `${Date.now()}:${key}`);
        chat.sent++;
        if (i % 20 === 19) await new Promise((r) => setTimeout(r, 100)); // 20 per 100 ms
      }
      seq++;
      await new Promise((r) => setTimeout(r, Math.max(0, 10_000 - (Date.now() - started))));
    }
  })();
  return { chat, clients, done };
}

async function meetings(gw: BenchGateway, until: number): Promise<{ joins: number; failures: string[] }> {
  const url = `http://127.0.0.1:${gw.httpPort}`;
  const rooms: SfuTestClient[][] = Array.from({ length: MEETINGS }, () => []);
  const result = { joins: 0, failures: [] as string[] };
  let next = 5000; // users u5000… join meetings
  while (Date.now() < until) {
    for (let m = 0; m < MEETINGS; m++) {
      try {
        const cookie = await signIn(url, `u${next++}`, BENCH_PASSWORD);
        const c = await SfuTestClient.joinThroughGateway(url, `soak-meeting-${m}`, { cookie });
        await c.setUpMedia();
        await c.produce('mic');
        rooms[m].push(c);
        result.joins++;
        if (rooms[m].length > MEETING_SIZE) {
          const leaving = rooms[m].shift()!;
          await leaving.request('leave', {}).catch(() => leaving.close());
        }
      } catch (err) {
        result.failures.push((err as Error).message);
      }
    }
    await new Promise((r) => setTimeout(r, 10_000));
  }
  for (const room of rooms) for (const c of room) c.close();
  return result;
}

async function main(): Promise<void> {
  console.log(`Soak: ${MINUTES} min — ${USERS} SIP users refreshing, ${XMPP_PAIRS * 2} XMPP sessions chatting with receipts, ${CALLS_PER_SECOND} calls/s, ${MEETINGS} meetings`);
  const gw = await startBenchGateway(
    USERS,
    { PARLEY_SIP_RATE_PER_IP: '0', PARLEY_XMPP_RATE_STANZAS_PER_SECOND: '0', PARLEY_SFU_WORKERS: '1', PARLEY_SFU_LISTEN_IP: '127.0.0.1', PARLEY_SFU_RTC_PORT: '0', PARLEY_LOGIN_MAX_FAILURES: '100000' },
    prepareContacts,
  );
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-soak-'));
  const remote = `127.0.0.1:${gw.sipPort}`;
  try {
    const uasPort = await freeTcpUdpPort();
    fs.writeFileSync(path.join(work, 'users.csv'), ['SEQUENTIAL', ...Array.from({ length: USERS }, (_, i) => `u${i};[authentication username=u${i} password=${BENCH_PASSWORD}];localhost;127.0.0.1:${uasPort}`)].join('\n') + '\n');
    fs.writeFileSync(path.join(work, 'caller.csv'), `SEQUENTIAL\nu1;[authentication username=u1 password=${BENCH_PASSWORD}];localhost;u0\n`);
    const uas = sipp(['-sf', path.join(SCENARIOS, 'uas-answer.xml'), '-p', String(uasPort), '-m', '100000000'], fs.mkdtempSync(path.join(work, 'uas-')));

    // Everyone registers once (so calls to u0 find the UAS), then the load starts.
    const regDir = fs.mkdtempSync(path.join(work, 'reg-'));
    const regPort = await freeTcpUdpPort();
    const first = await sipp([remote, '-sf', path.join(SCENARIOS, 'register.xml'), '-inf', '../users.csv', '-p', String(regPort), '-m', String(USERS), '-r', '2000', '-l', '200'], regDir).done;
    console.log(`  initial registrations: ${first.ok} ok, ${first.failed} failed`);
    const until = Date.now() + DURATION_MS;
    const startRss = rssMb(gw.pid);
    const startFds = openFds(gw.pid);

    const refreshDir = fs.mkdtempSync(path.join(work, 'refresh-'));
    const refreshRate = Math.ceil(USERS / REFRESH_SECONDS);
    const refresh = sipp(
      [remote, '-sf', path.join(SCENARIOS, 'register.xml'), '-inf', '../users.csv', '-p', String(await freeTcpUdpPort()), '-m', String(Math.floor((refreshRate * DURATION_MS) / 1000)), '-r', String(refreshRate), '-l', '500'],
      refreshDir,
      'register',
    );
    const callDir = fs.mkdtempSync(path.join(work, 'calls-'));
    const calls = sipp(
      [remote, '-sf', path.join(SCENARIOS, 'uac-call.xml'), '-inf', '../caller.csv', '-p', String(await freeTcpUdpPort()), '-m', String(Math.floor((CALLS_PER_SECOND * DURATION_MS) / 1000)), '-r', String(CALLS_PER_SECOND), '-l', '1000', '-d', '1000'],
      callDir,
      'setup',
    );
    const chatRun = await startChat(gw, until);
    const meetingRun = meetings(gw, until);

    const sampler = setInterval(async () => {
      const m = await metrics(gw).catch(() => ({}) as Record<string, number>);
      console.log(
        `  t+${Math.round((DURATION_MS - (until - Date.now())) / 1000)}s  RSS ${rssMb(gw.pid).toFixed(0)} MB  fds ${openFds(gw.pid)}  bindings ${m.sip_bindings}  calls ${m.calls_active}  xmpp ${m.xmpp_sessions}  sip tx ${m.sip_server_transactions}/${m.sip_client_transactions}  conferences ${m.sfu_conferences}  consumers ${m.sfu_consumers}  chat ${chatRun.chat.delivered}/${chatRun.chat.sent}`,
      );
    }, 30_000);

    const [refreshResult, callResult] = await Promise.all([refresh.done, calls.done, chatRun.done]);
    const meetingResult = await meetingRun;
    clearInterval(sampler);
    // Let the last messages and receipts land, then stop the clients and give the server time to settle.
    await new Promise((r) => setTimeout(r, 10_000));
    const { chat, clients } = chatRun;
    for (const c of clients) c.close();
    uas.proc.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 15_000));
    const after = await metrics(gw);
    const lost = chat.sent - chat.delivered;
    const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
    const rows: Array<[string, string]> = [
      ['XMPP messages sent / delivered / lost', `${chat.sent} / ${chat.delivered} / ${lost}`],
      ['XMPP delivery receipts back / missing', `${chat.receipts} / ${chat.sent - chat.receipts}`],
      ['XMPP delivery latency p50 / p99', `${percentile(sorted(chat.latencies), 50)} / ${percentile(sorted(chat.latencies), 99)} ms`],
      ['REGISTER refreshes ok / failed', `${refreshResult.ok} / ${refreshResult.failed}`],
      ['REGISTER response p99 (incl. 401 round)', `${percentile(sorted(refreshResult.rtt), 99)} ms`],
      ['calls ok / failed', `${callResult.ok} / ${callResult.failed}`],
      ['call setup p50 / p99 (INVITE → 200, incl. 407)', `${percentile(sorted(callResult.rtt), 50)} / ${percentile(sorted(callResult.rtt), 99)} ms`],
      ['meeting joins / failures', `${meetingResult.joins} / ${meetingResult.failures.length}${meetingResult.failures.length ? ` (${meetingResult.failures[0]})` : ''}`],
      ['gateway RSS start → end (load stopped)', `${startRss.toFixed(0)} → ${rssMb(gw.pid).toFixed(0)} MB`],
      ['open file descriptors start → end', `${startFds} → ${openFds(gw.pid)}`],
      ['left over: calls, SIP transactions, XMPP sessions, conferences', `${after.calls_active}, ${after.sip_server_transactions}/${after.sip_client_transactions}, ${after.xmpp_sessions}, ${after.sfu_conferences}`],
    ];
    console.log(`\nSoak results (${MINUTES} min, one gateway process, loopback)`);
    for (const [k, v] of rows) console.log(`  ${k.padEnd(62)} ${v}`);
    const failed = lost > 0 || refreshResult.failed > 0 || callResult.failed > 0 || meetingResult.failures.length > 0 || chat.sent - chat.receipts > 0;
    process.exitCode = failed ? 1 : 0;
  } finally {
    gw.stop();
    setTimeout(() => fs.rmSync(work, { recursive: true, force: true }), 1000).unref();
  }
}

main().catch((err: Error) => {
  console.error(err);
  process.exit(1);
});
