/**
 * The SIP half of `npm run bench -- reference`: Kamailio 5.6 and one Parley gateway under the
 * same sipp load, taking turns (see referenceBench.ts).
 */
import crypto from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { SCENARIOS } from '../../gateway/test-support/sipp.js';
import { freeTcpUdpPort } from '../../server-common/test-support/ports.js';
import { BENCH_PASSWORD, ROOT, startBenchGateway, treeCpuSeconds, treePssMb } from '../support/benchEnv.js';
import { sipLoad } from '../sip/sippRunner.js';

const USERS = 10_000;
const CALLS = 10_000;
const KAMAILIO_SQL = '/usr/share/kamailio/db_sqlite';

interface Figures {
  registers: number;
  registerUs: number;
  calls: number;
  callUs: number;
  /** PSS 3 s after the REGISTERs, and at rest (35 s after: transactions over, their garbage collected). */
  pssMb: number;
  pssRestMb: number;
  failed: number;
}

/** A SQLite subscriber table for Kamailio with the same 10,000 users and their HA1. */
function kamailioDatabase(dir: string): string {
  const file = path.join(dir, 'kamailio.db');
  const db = new Database(file);
  db.exec(fs.readFileSync(path.join(KAMAILIO_SQL, 'standard-create.sql'), 'utf8'));
  db.exec(fs.readFileSync(path.join(KAMAILIO_SQL, 'auth_db-create.sql'), 'utf8'));
  const insert = db.prepare("INSERT INTO subscriber (username, domain, ha1) VALUES (?, 'localhost', ?)");
  db.transaction(() => {
    for (let i = 0; i < USERS; i++) insert.run(`u${i}`, crypto.createHash('md5').update(`u${i}:localhost:${BENCH_PASSWORD}`).digest('hex'));
  })();
  db.close();
  return file;
}

async function load(remote: string, cpu: () => number, pss: () => number): Promise<Figures> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-reference-'));
  const sip = sipLoad(remote, work, { register: await freeTcpUdpPort(), uac: await freeTcpUdpPort(), uas: await freeTcpUdpPort() }, SCENARIOS);
  try {
    sip.prepare(USERS, BENCH_PASSWORD);
    const reg = await sip.registers(cpu);
    await new Promise((r) => setTimeout(r, 3000));
    const pssMb = pss();
    await new Promise((r) => setTimeout(r, 32_000));
    const pssRestMb = pss();
    const calls = await sip.calls(CALLS, 60, cpu);
    return { registers: reg.run.rate, registerUs: reg.cpuUsEach, calls: calls.run.rate, callUs: calls.cpuUsEach, pssMb, pssRestMb, failed: reg.run.failed + calls.run.failed };
  } finally {
    sip.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

async function kamailio(): Promise<Figures> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-kamailio-'));
  const port = await freeTcpUdpPort();
  const db = kamailioDatabase(dir);
  const proc = spawn(
    'kamailio',
    ['-f', path.join(ROOT, 'bench/reference/kamailio.cfg'), '-DD', '-E', '-m', '1024', '-M', '32', '-w', dir, '-P', path.join(dir, 'kamailio.pid'), '-l', `udp:127.0.0.1:${port}`, '-A', `DBURL="sqlite:///${db}"`],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  await new Promise((r) => setTimeout(r, 2000));
  if (proc.exitCode !== null) throw new Error(`kamailio did not start:\n${err}`);
  try {
    const figures = await load(`127.0.0.1:${port}`, () => treeCpuSeconds(proc.pid!), () => treePssMb(proc.pid!));
    // Why it failed calls, in its own words (each distinct error once, with its count).
    if (figures.failed) {
      const errors = new Map<string, number>();
      for (const line of err.split('\n').filter((l) => /ERROR|CRITICAL/.test(l))) {
        const text = line.replace(/^.*?(ERROR|CRITICAL)/, '$1').replace(/\d+/g, 'N');
        errors.set(text, (errors.get(text) ?? 0) + 1);
      }
      for (const [text, n] of [...errors].slice(0, 5)) console.log(`  kamailio (${n}×): ${text.slice(0, 160)}`);
    }
    return figures;
  } finally {
    proc.kill('SIGTERM');
    await new Promise((r) => proc.once('exit', r));
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function parley(): Promise<Figures> {
  const gw = await startBenchGateway(USERS, { PARLEY_SIP_RATE_PER_IP: '0' });
  try {
    // The settling time Kamailio gets after its start: the gateway answers /healthz before its
    // conference server (mediasoup: modules and a worker process) has started, which is not SIP work.
    await new Promise((r) => setTimeout(r, 2000));
    return await load(`127.0.0.1:${gw.sipPort}`, () => treeCpuSeconds(gw.pid), () => treePssMb(gw.pid));
  } finally {
    gw.stop();
    await new Promise((r) => setTimeout(r, 2000));
  }
}

function best(rounds: Figures[]): Figures {
  return rounds.reduce((a, b) => ({
    registers: Math.max(a.registers, b.registers),
    registerUs: Math.min(a.registerUs, b.registerUs),
    calls: Math.max(a.calls, b.calls),
    callUs: Math.min(a.callUs, b.callUs),
    pssMb: Math.min(a.pssMb, b.pssMb),
    pssRestMb: Math.min(a.pssRestMb, b.pssRestMb),
    failed: Math.max(a.failed, b.failed),
  }));
}

/** Runs both `rounds` times, taking turns, and prints the best round of each with the ratios. */
export async function sipReference(rounds: number): Promise<void> {
  if (spawnSync('kamailio', ['-v'], { stdio: 'ignore' }).status !== 0) throw new Error('kamailio is not installed (apt install kamailio kamailio-sqlite-modules)');
  const k: Figures[] = [];
  const p: Figures[] = [];
  for (let r = 0; r < rounds; r++) {
    k.push(await kamailio());
    p.push(await parley());
  }
  const [kb, pb] = [best(k), best(p)];
  const row = (label: string, pv: string, kv: string, ratio: string) => console.log(`  ${label.padEnd(52)} ${pv.padStart(22)} ${kv.padStart(22)} ${ratio.padStart(8)}`);
  console.log(`\nSIP: Parley (one gateway, SQLite) against Kamailio 5.6 (4 children, usrloc in memory), same sipp load${rounds > 1 ? `, best of ${rounds} rounds taking turns` : ''}`);
  row('', 'Parley', 'Kamailio', 'ratio');
  row(`digest REGISTER/s, ${USERS} users, UDP`, `${pb.registers.toFixed(0)} (${pb.registerUs.toFixed(0)} µs CPU)`, `${kb.registers.toFixed(0)} (${kb.registerUs.toFixed(0)} µs CPU)`, `${(pb.registers / kb.registers).toFixed(2)}×`);
  // A side that failed calls was partly held up by timeouts, not by work: its ratio is marked.
  const callRatio = `${(pb.calls / kb.calls).toFixed(2)}×${kb.failed || pb.failed ? '*' : ''}`;
  row('proxied calls/s, INVITE+407 … BYE, 60 in flight', `${pb.calls.toFixed(0)} (${pb.callUs.toFixed(0)} µs CPU)`, `${kb.calls.toFixed(0)} (${kb.callUs.toFixed(0)} µs CPU)`, callRatio);
  row(`PSS of the process tree, ${USERS} bindings, at rest`, `${pb.pssRestMb.toFixed(0)} MB`, `${kb.pssRestMb.toFixed(0)} MB`, `${(pb.pssRestMb / kb.pssRestMb).toFixed(1)}×`);
  row('  the same 3 s after the REGISTERs (their garbage not yet collected)', `${pb.pssMb.toFixed(0)} MB`, `${kb.pssMb.toFixed(0)} MB`, `${(pb.pssMb / kb.pssMb).toFixed(1)}×`);
  console.log(`  failed transactions: Parley ${pb.failed}, Kamailio ${kb.failed}${kb.failed || pb.failed ? ' (* the calls ratio includes the failing side’s timeouts)' : ''}`);
  console.log('  targets (issue 12): REGISTER/s ≥ 1.0× Kamailio; memory with 10,000 bindings ≤ 4× Kamailio');
}
