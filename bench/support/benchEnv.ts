/** Shared benchmark plumbing: the cached account database, a gateway process, /proc readings. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SqliteAccountStore } from '../../gateway/src/directory/sqliteAccountStore.js';
import { openDatabase } from '../../gateway/src/storage/database.js';
import { freeTcpPort, freeTcpUdpPort } from '../../server-common/test-support/ports.js';

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const BENCH_PASSWORD = 'bench-password';
const CACHE = path.join(ROOT, '.cache');

/** A database with `users` accounts u0…u(n-1), built once and cached in .cache/. */
export async function benchDatabase(users: number): Promise<string> {
  fs.mkdirSync(CACHE, { recursive: true });
  const file = path.join(CACHE, `bench-${users}-users.db`);
  if (fs.existsSync(file)) return file;
  process.stdout.write(`creating ${users} accounts (cached in .cache/ for later runs)… `);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-benchdb-'));
  const db = openDatabase(tmp);
  const store = new SqliteAccountStore({ db, realm: 'localhost', passwordHashCost: 10, scramIterations: 1024 });
  for (let i = 0; i < users; i += 64) {
    await Promise.all(Array.from({ length: Math.min(64, users - i) }, (_, k) => store.create({ username: `u${i + k}`, password: BENCH_PASSWORD })));
  }
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();
  fs.copyFileSync(path.join(tmp, 'parley.db'), file);
  fs.rmSync(tmp, { recursive: true, force: true });
  console.log('done');
  return file;
}

export interface BenchGateway {
  proc: ChildProcess;
  pid: number;
  dataDir: string;
  httpPort: number;
  sipPort: number;
  xmppPort: number;
  stop(): void;
}

/** Starts a gateway process on a copy of the cached database; `prepare` may edit that copy first. */
export async function startBenchGateway(users: number, env: Record<string, string>, prepare?: (dbFile: string) => void, nodeArgs: string[] = []): Promise<BenchGateway> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-bench-'));
  fs.copyFileSync(await benchDatabase(users), path.join(dataDir, 'parley.db'));
  prepare?.(path.join(dataDir, 'parley.db'));
  const httpPort = await freeTcpPort();
  const sipPort = await freeTcpUdpPort();
  const xmppPort = await freeTcpPort();
  const proc = spawn(process.execPath, [...nodeArgs, path.join(ROOT, 'build/gateway/src/main.js')], {
    env: {
      ...process.env,
      PARLEY_DATA: dataDir,
      PORT: String(httpPort),
      SIP_PORT: String(sipPort),
      XMPP_C2S_PORT: String(xmppPort),
      PARLEY_SIP_HOST: '127.0.0.1',
      PARLEY_HTTP_HOST: '127.0.0.1',
      PARLEY_XMPP_HOST: '127.0.0.1',
      PARLEY_LOG_LEVEL: 'warn',
      ...env,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; i < 100; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${httpPort}/healthz`)).ok) break;
    } catch {
      // starting
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    proc,
    pid: proc.pid!,
    dataDir,
    httpPort,
    sipPort,
    xmppPort,
    stop() {
      proc.kill('SIGTERM');
      setTimeout(() => fs.rmSync(dataDir, { recursive: true, force: true }), 2000).unref();
    },
  };
}

export function rssMb(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

/** utime + stime of a process, in seconds (FIELD-NOTES: believable where /proc/stat is not). */
export function cpuSeconds(pid: number): number {
  const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/** Runs `task(i)` for i < n with at most `concurrency` in flight. */
export async function pool(n: number, concurrency: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) await task(next++);
    }),
  );
}
