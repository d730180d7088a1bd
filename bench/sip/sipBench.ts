/**
 * SIP benchmark (`npm run bench`): sipp against one gateway process on loopback.
 *
 * Prints: digest-authenticated REGISTER/s (10,000 distinct users from an injection file),
 * proxied calls/s (sipp UAC → gateway → sipp UAS, INVITE with 407 challenge … BYE, no media),
 * p50/p99 call setup at a fixed 200 calls/s, and the gateway's RSS.
 *
 * Throughput runs are closed-loop: sipp keeps a fixed number of transactions in flight and
 * starts the next as soon as one finishes, so the rate is what the gateway sustains.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { copySqliteToPostgres } from '../../gateway/src/storage/copy/databaseCopy.js';
import { SCENARIOS } from '../../gateway/test-support/sipp.js';
import { createLogger } from '../../server-common/logger.js';
import { freeTcpPort, freeTcpUdpPort } from '../../server-common/test-support/ports.js';
import { createDatabase } from '../../server-common/test-support/postgresServer.js';
import { sipp } from './sippRunner.js';
import {
  BENCH_PASSWORD as PASSWORD,
  benchDatabase,
  GATEWAY_NODE_ARGS,
  cpuSeconds,
  percentile,
  runOnBothStores,
  ROOT,
  rssMb,
  type BenchRow,
  type BenchStore,
} from '../support/benchEnv.js';

const USERS = Number(process.env.BENCH_USERS ?? 10_000);

/** Every figure, on one gateway whose records are on `store`. */
async function measure(store: BenchStore): Promise<BenchRow[]> {
  const dbFile = await benchDatabase(USERS);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-bench-'));
  fs.copyFileSync(dbFile, path.join(dataDir, 'parley.db'));
  const storeEnv: Record<string, string> = {};
  if (store.kind === 'postgres') {
    // The same accounts, copied the way an operator moves an installation (parley db copy).
    storeEnv.DATABASE_URL = await createDatabase(store.serverUrl, 'bench');
    await copySqliteToPostgres({ fromDir: dataDir, toUrl: storeEnv.DATABASE_URL, logger: createLogger('silent') });
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-sipp-'));
  const sipPort = await freeTcpUdpPort();
  const httpPort = await freeTcpPort();
  const gateway = spawn(process.execPath, [...GATEWAY_NODE_ARGS, path.join(ROOT, 'build/gateway/src/main.js')], {
    env: {
      ...process.env,
      PARLEY_DATA: dataDir,
      PORT: String(httpPort),
      SIP_PORT: String(sipPort),
      SIP_TLS_PORT: '0',
      PARLEY_SIP_HOST: '127.0.0.1',
      PARLEY_HTTP_HOST: '127.0.0.1',
      PARLEY_LOG_LEVEL: 'warn',
      PARLEY_SIP_RATE_PER_IP: '0',
      ...storeEnv,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; i < 100; i++) {
    const up = await fetch(`http://127.0.0.1:${httpPort}/healthz`).then((r) => r.ok, () => false);
    if (up) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const pid = gateway.pid!;
  const remote = `127.0.0.1:${sipPort}`;
  const results: BenchRow[] = [];
  try {
    // --- REGISTER/s -------------------------------------------------------------------
    const uasPort = await freeTcpUdpPort();
    const csv = ['SEQUENTIAL', ...Array.from({ length: USERS }, (_, i) => `u${i};[authentication username=u${i} password=${PASSWORD}];localhost;127.0.0.1:${uasPort}`)].join('\n');
    fs.writeFileSync(path.join(work, 'users.csv'), csv + '\n');
    const regPort = await freeTcpUdpPort();
    const regArgs = (n: number) => [remote, '-sf', path.join(SCENARIOS, 'register.xml'), '-inf', 'users.csv', '-p', String(regPort), '-m', String(n), '-r', '50000', '-l', '300'];
    // First round: every user registers for the first time (cold caches, new bindings);
    // second round: every user refreshes its registration, the steady state of a running system.
    for (const round of ['first registration', 'refresh']) {
      const cpu0 = cpuSeconds(pid);
      const reg = await sipp(regArgs(USERS), work).done;
      const cpu = cpuSeconds(pid) - cpu0;
      results.push([
        `REGISTER/s, digest, ${USERS} users, ${round}`,
        `${reg.rate.toFixed(0)}  (${reg.successful} ok, ${reg.failed} failed, ${((cpu / Math.max(1, reg.successful)) * 1e6).toFixed(0)} µs gateway CPU each)`,
        reg.rate,
      ]);
    }
    await new Promise((r) => setTimeout(r, 6000)); // let lingering transactions expire and the memory reducer run
    results.push(['gateway RSS with 10k bindings', `${rssMb(pid).toFixed(0)} MB`]);

    // --- calls/s ----------------------------------------------------------------------
    const callerCsv = ['SEQUENTIAL', `u1;[authentication username=u1 password=${PASSWORD}];localhost;u0`].join('\n');
    fs.writeFileSync(path.join(work, 'caller.csv'), callerCsv + '\n');
    fs.writeFileSync(path.join(work, 'callee.csv'), `SEQUENTIAL\nu0;[authentication username=u0 password=${PASSWORD}];localhost;127.0.0.1:${uasPort}\n`);
    await sipp([remote, '-sf', path.join(SCENARIOS, 'register.xml'), '-inf', 'callee.csv', '-p', String(regPort), '-m', '1'], work).done;
    const uacPort = await freeTcpUdpPort();
    const uas = sipp(['-sf', path.join(SCENARIOS, 'uas-answer.xml'), '-p', String(uasPort), '-m', '1000000'], work);
    const callArgs = (n: number, rate: string, limit: string, extra: string[] = []) => [
      remote, '-sf', path.join(SCENARIOS, 'uac-call.xml'), '-inf', 'caller.csv', '-p', String(uacPort), '-m', String(n), '-r', rate, '-l', limit, '-d', '0', ...extra,
    ];
    await sipp(callArgs(1000, '300', '100'), work).done; // warm-up
    const cpu1 = cpuSeconds(pid);
    const calls = await sipp(callArgs(20_000, '10000', '60'), work).done;
    const callCpu = cpuSeconds(pid) - cpu1;
    results.push([
      'proxied calls/s (INVITE+407 … BYE, 60 in flight)',
      `${calls.rate.toFixed(0)}  (${calls.successful} ok, ${calls.failed} failed, ${((callCpu / calls.successful) * 1e6).toFixed(0)} µs gateway CPU per call)`,
      calls.rate,
    ]);

    // --- call setup latency at a fixed 200 calls/s ------------------------------------
    const fixed = await sipp(callArgs(4000, '200', '1000', ['-trace_rtt', '-rtt_freq', '1']), work).done;
    const rttFile = fs.readdirSync(work).find((f) => f.endsWith('_rtt.csv'));
    const samples = rttFile
      ? fs
          .readFileSync(path.join(work, rttFile), 'utf8')
          .split('\n')
          .slice(1)
          .map((l) => Number(l.split(';')[1]))
          .filter((v) => Number.isFinite(v))
          .sort((a, b) => a - b)
      : [];
    results.push([
      'call setup at 200 calls/s (INVITE → 200, incl. 407 round)',
      `p50 ${percentile(samples, 50)} ms, p99 ${percentile(samples, 99)} ms (sipp's 1 ms resolution)  (${fixed.successful} ok, ${fixed.failed} failed)`,
    ]);
    await new Promise((r) => setTimeout(r, 6000));
    results.push(['gateway RSS after the call runs (6 s later)', `${rssMb(pid).toFixed(0)} MB`]);
    uas.proc.kill('SIGINT');
  } finally {
    gateway.kill('SIGTERM');
    fs.rmSync(work, { recursive: true, force: true });
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
  return results;
}

runOnBothStores('SIP benchmark (one gateway process, sipp on loopback)', [
    'against a reference server in the same run: `npm run bench -- reference` (Kamailio 5.6, the same sipp load, ratios)',
    'targets: ≥ 5,000 REGISTER/s, ≥ 1,000 calls/s, p50 setup ≤ 5 ms, RSS ≤ 150 MB with 10k bindings',
  ], measure);
