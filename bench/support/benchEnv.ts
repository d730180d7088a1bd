/**
 * Shared benchmark plumbing: the cached account database, a gateway process (on SQLite, or on
 * PostgreSQL with the same records copied over by `parley db copy`'s code), /proc readings.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type Database from 'better-sqlite3';
import { AccountDirectory } from '../../gateway/src/directory/accountDirectory.js';
import { copySqliteToPostgres } from '../../gateway/src/storage/copy/databaseCopy.js';
import { migrate } from '../../gateway/src/storage/migrations/migrator.js';
import { SqlAccountRecords } from '../../gateway/src/storage/records/accountRecords.js';
import { SqliteDatabase } from '../../gateway/src/storage/sql/sqliteDatabase.js';
import { createLogger } from '../../server-common/logger.js';
import { createDatabase, startPostgresServer } from '../../server-common/test-support/postgresServer.js';
import { freeTcpPort, freeTcpUdpPort } from '../../server-common/test-support/ports.js';

export const ROOT = path.resolve(import.meta.dirname, '../..');
/**
 * The gateway's Node flags as `npm start` (scripts/start.sh) runs it, and any in
 * PARLEY_BENCH_NODE_ARGS (for profiling: `--cpu-prof --cpu-prof-dir=/tmp/prof`).
 */
export const GATEWAY_NODE_ARGS = [
  ...(process.env.PARLEY_YOUNG_GENERATION_MB ? [`--max-semi-space-size=${process.env.PARLEY_YOUNG_GENERATION_MB}`] : []),
  ...(process.env.PARLEY_BENCH_NODE_ARGS?.split(/\s+/).filter(Boolean) ?? []),
];
export const BENCH_PASSWORD = 'bench-password';
const CACHE = path.join(ROOT, '.cache');

/** A database with `users` accounts u0…u(n-1), built once and cached in .cache/. */
export async function benchDatabase(users: number): Promise<string> {
  fs.mkdirSync(CACHE, { recursive: true });
  const file = path.join(CACHE, `bench-${users}-users.db`);
  if (fs.existsSync(file)) return file;
  process.stdout.write(`creating ${users} accounts (cached in .cache/ for later runs)… `);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-benchdb-'));
  await withBenchSqlite(tmp, async (_raw, db) => {
    const store = new AccountDirectory({ records: new SqlAccountRecords(db), realm: 'localhost', passwordHashCost: 10, scramIterations: 1024 });
    for (let i = 0; i < users; i += 64) {
      await Promise.all(Array.from({ length: Math.min(64, users - i) }, (_, k) => store.create({ username: `u${i + k}`, password: BENCH_PASSWORD })));
    }
  });
  fs.copyFileSync(path.join(tmp, 'parley.db'), file);
  fs.rmSync(tmp, { recursive: true, force: true });
  console.log('done');
  return file;
}

/**
 * Runs `fn` on the SQLite database in `dir` (brought to the current schema first) and closes it
 * with its write-ahead log folded in, so the file can be copied.
 */
export async function withBenchSqlite<T>(dir: string, fn: (raw: Database.Database, db: SqliteDatabase) => T | Promise<T>): Promise<T> {
  const db = new SqliteDatabase({ dir, file: 'parley.db' });
  try {
    await migrate(db, 'main');
    return await fn(db.raw, db);
  } finally {
    db.raw.pragma('wal_checkpoint(TRUNCATE)');
    await db.close();
  }
}

export type BenchStore = { kind: 'sqlite' } | { kind: 'postgres'; serverUrl: string };

export interface BenchGateway {
  proc: ChildProcess;
  pid: number;
  dataDir: string;
  httpPort: number;
  sipPort: number;
  xmppPort: number;
  stop(): void;
}

/**
 * Starts a gateway process on a copy of the cached database; `prepare` may edit that copy
 * first. On PostgreSQL the prepared records are copied into a fresh database of `serverUrl`.
 */
export async function startBenchGateway(
  users: number,
  env: Record<string, string>,
  prepare?: (dbFile: string) => void | Promise<void>,
  nodeArgs: string[] = [],
  store: BenchStore = { kind: 'sqlite' },
): Promise<BenchGateway> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-bench-'));
  fs.copyFileSync(await benchDatabase(users), path.join(dataDir, 'parley.db'));
  await prepare?.(path.join(dataDir, 'parley.db'));
  const storeEnv: Record<string, string> = {};
  if (store.kind === 'postgres') {
    const url = await createDatabase(store.serverUrl, 'bench');
    await copySqliteToPostgres({ fromDir: dataDir, toUrl: url, logger: createLogger('silent') });
    storeEnv.DATABASE_URL = url;
  }
  const httpPort = await freeTcpPort();
  const sipPort = await freeTcpUdpPort();
  const xmppPort = await freeTcpPort();
  const proc = spawn(process.execPath, [...GATEWAY_NODE_ARGS, ...nodeArgs, path.join(ROOT, 'build/gateway/src/main.js')], {
    env: {
      ...process.env,
      PARLEY_DATA: dataDir,
      PORT: String(httpPort),
      SIP_PORT: String(sipPort),
      SIP_TLS_PORT: '0',
      XMPP_C2S_PORT: String(xmppPort),
      PARLEY_SIP_HOST: '127.0.0.1',
      PARLEY_HTTP_HOST: '127.0.0.1',
      PARLEY_XMPP_HOST: '127.0.0.1',
      PARLEY_LOG_LEVEL: 'warn',
      // Conference media on loopback, on ports the system picks (a fixed one may be held by one of
      // the thousands of client sockets a SIP load opens).
      PARLEY_SFU_LISTEN_IP: '127.0.0.1',
      PARLEY_SFU_RTC_PORT: '0',
      ...storeEnv,
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

/** A process and all its descendants (a PARLEY_NODES primary, its nodes, their SFU workers). */
export function processTree(pid: number): number[] {
  const out = [pid];
  try {
    for (const task of fs.readdirSync(`/proc/${pid}/task`)) {
      const children = fs.readFileSync(`/proc/${pid}/task/${task}/children`, 'utf8').trim();
      for (const child of children ? children.split(' ') : []) out.push(...processTree(Number(child)));
    }
  } catch {
    // the process ended meanwhile
  }
  return out;
}

/** `read` summed over a process and all its descendants (one that ends meanwhile counts 0). */
function sumOverTree(pid: number, read: (pid: number) => number): number {
  let total = 0;
  for (const p of processTree(pid)) {
    try {
      total += read(p);
    } catch {
      // ended meanwhile
    }
  }
  return total;
}

/** CPU seconds of a process and all its descendants. */
export function treeCpuSeconds(pid: number): number {
  return sumOverTree(pid, cpuSeconds);
}

/** Proportional set size of a process tree in MB (shared pages split among those sharing them). */
export function treePssMb(pid: number): number {
  const pssKiB = (p: number) => Number(/^Pss:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${p}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
  return sumOverTree(pid, pssKiB) / 1024;
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

/** A benchmark's figures: what it measured, as printed, and the number compared across stores. */
export type BenchRow = [label: string, text: string, figure?: number];

function printRows(title: string, rows: BenchRow[]): void {
  console.log(`\n${title}`);
  for (const [k, v] of rows) console.log(`  ${k.padEnd(62)} ${v}`);
}

/** Each store's best figure per row over several rounds (rates: higher is better). */
function bestOf(rounds: BenchRow[][]): BenchRow[] {
  return rounds[0].map(([label], i) => {
    let best = rounds[0][i];
    for (const round of rounds) {
      const row = round.find((r) => r[0] === label);
      if (row?.[2] !== undefined && (best[2] === undefined || row[2] > best[2])) best = row;
    }
    return best;
  });
}

/**
 * Measures on SQLite, prints the figures with `notes`, then — unless BENCH_POSTGRES=0 — the
 * same on a PostgreSQL 15 started for the run with fsync and synchronous commit on (as in
 * production), and PostgreSQL's rates as a share of SQLite's. With BENCH_ROUNDS=n the two
 * stores take turns n times and each row shows the store's best round: the machine's speed
 * drifts over minutes, and measuring one store wholly before the other would tilt the ratio.
 */
async function onBothStores(title: string, notes: string[], measure: (store: BenchStore) => Promise<BenchRow[]>): Promise<void> {
  const rounds = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 1) || 1);
  const withPostgres = process.env.BENCH_POSTGRES !== '0';
  const server = withPostgres ? await startPostgresServer({ durable: true }) : undefined;
  const sqliteRounds: BenchRow[][] = [];
  const postgresRounds: BenchRow[][] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      sqliteRounds.push(await measure({ kind: 'sqlite' }));
      if (server) postgresRounds.push(await measure({ kind: 'postgres', serverUrl: server.url }));
    }
  } finally {
    await server?.stop();
  }
  const best = rounds > 1 ? ` (best of ${rounds} rounds, the stores taking turns)` : '';
  const sqlite = bestOf(sqliteRounds);
  printRows(`${title}, records on SQLite${best}`, sqlite);
  for (const n of notes) console.log(`  ${n}`);
  if (!server) return;
  const postgres = bestOf(postgresRounds);
  printRows(`The same, records on PostgreSQL (DATABASE_URL, fsync on)${best}`, postgres);
  printRatios(sqlite, postgres);
}

/** Runs a benchmark's main on both stores and exits: leftover handles of a stopped gateway or database must not keep it open. */
export function runOnBothStores(title: string, notes: string[], measure: (store: BenchStore) => Promise<BenchRow[]>): void {
  onBothStores(title, notes, measure).then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}

/** PostgreSQL's rates as a share of SQLite's, measured in the same run (the 80% bar). */
function printRatios(sqlite: BenchRow[], postgres: BenchRow[]): void {
  console.log('\nPostgreSQL / SQLite, same machine, same run');
  for (const [label, , figure] of sqlite) {
    const other = postgres.find((r) => r[0] === label)?.[2];
    if (figure === undefined || other === undefined) continue;
    const ratio = other / figure;
    console.log(`  ${label.padEnd(62)} ${(ratio * 100).toFixed(0)}%${ratio < 0.8 ? '  (below 80%)' : ''}`);
  }
}
