/**
 * A real PostgreSQL server (Debian's `postgresql` package, installed by the test command) on a
 * free loopback port with a throwaway data directory. PostgreSQL refuses to run as root, so as
 * root the server runs as the `postgres` system user (or `nobody`). Each test takes a fresh
 * database of its own from it (`createDatabase`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freeTcpPort } from './ports.js';

export interface PostgresServer {
  /** URL of the server's `postgres` database. */
  url: string;
  port: number;
  /** Creates an empty database and returns its URL. */
  createDatabase(prefix?: string): Promise<string>;
  stop(): Promise<void>;
}

export interface PostgresServerOptions {
  /**
   * fsync and synchronous commit on, as a production server runs (benchmarks); tests turn
   * them off, which changes speed, not behaviour.
   */
  durable?: boolean;
  /** More `name=value` server settings (e.g. `shared_preload_libraries=pg_stat_statements` to profile). */
  settings?: string[];
}

/** The directory of the newest installed PostgreSQL's programs. */
export function postgresBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!fs.existsSync(root)) return undefined;
  const versions = fs
    .readdirSync(root)
    .filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return versions.length ? path.join(root, versions[0], 'bin') : undefined;
}

const USER = 'parley';

export async function startPostgresServer(options: PostgresServerOptions = {}): Promise<PostgresServer> {
  const bin = postgresBinDir();
  if (!bin) throw new Error('PostgreSQL is not installed (apt-get install postgresql); the test command installs it');
  const runAs = process.getuid?.() === 0 ? systemUser() : undefined;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-pg-'));
  fs.chmodSync(dir, 0o700);
  if (runAs) fs.chownSync(dir, runAs.uid, runAs.gid);
  const as = (cmd: string, args: string[]): [string, string[]] => (runAs ? ['runuser', ['-u', runAs.name, '--', cmd, ...args]] : [cmd, args]);

  const [initCmd, initArgs] = as(path.join(bin, 'initdb'), ['-D', path.join(dir, 'data'), '-U', USER, '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']);
  if (runAs) fs.chownSync(dir, runAs.uid, runAs.gid);
  const init = spawnSync(initCmd, initArgs, { encoding: 'utf8' });
  if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr || init.stdout}`);

  const port = await freeTcpPort();
  const settings = [
    `listen_addresses=127.0.0.1`,
    `port=${port}`,
    `unix_socket_directories=${dir}`,
    'max_connections=200',
    ...(options.durable ? [] : ['fsync=off', 'synchronous_commit=off', 'full_page_writes=off']),
    ...(options.settings ?? []),
  ].flatMap((s) => ['-c', s]);
  const [cmd, args] = as(path.join(bin, 'postgres'), ['-D', path.join(dir, 'data'), ...settings]);
  const child: ChildProcess = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    if (stderr.length < 20_000) stderr += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `postgres://${USER}@127.0.0.1:${port}/postgres`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`postgres exited: ${stderr}`);
    if (await answers(url)) break;
    if (i > 200) throw new Error(`postgres did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url,
    port,
    createDatabase: (prefix) => createDatabase(url, prefix),
    async stop() {
      // SIGINT to the postmaster itself: "fast" shutdown (ends sessions, no waiting for clients).
      // As root the child is runuser, which does not pass signals on, so the pid comes from
      // postmaster.pid; SIGKILL if it has not gone within 10 s.
      if (child.exitCode === null) {
        signalPostmaster(dir, child, 'SIGINT');
        const late = setTimeout(() => signalPostmaster(dir, child, 'SIGKILL'), 10_000);
        await exited;
        clearTimeout(late);
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

function signalPostmaster(dir: string, child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    const pid = Number(fs.readFileSync(path.join(dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    if (pid > 0) process.kill(pid, signal);
  } catch {
    // no pid file (not started yet, or gone): the child itself
  }
  if (child.exitCode === null) child.kill(signal);
}

/** Creates an empty database on the server at `serverUrl`; resolves to its URL. */
export async function createDatabase(serverUrl: string, prefix = 'parley_test'): Promise<string> {
  const name = `${prefix}_${crypto.randomBytes(5).toString('hex')}`;
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${name}`);
  } finally {
    await client.end();
  }
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

function systemUser(): { name: string; uid: number; gid: number } {
  for (const name of ['postgres', 'nobody']) {
    const id = spawnSync('id', ['-u', name], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
    if (id.status === 0 && gid.status === 0) return { name, uid: Number(id.stdout.trim()), gid: Number(gid.stdout.trim()) };
  }
  throw new Error('PostgreSQL cannot run as root and there is no postgres or nobody user to run it as');
}

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}
