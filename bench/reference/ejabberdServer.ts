/**
 * Debian's ejabberd as a reference XMPP server for the benchmarks: started in a temporary
 * directory with `bench/reference/ejabberd.yml`, holding the same accounts (the same SCRAM-SHA-1
 * salts and keys, read from Parley's cached bench database) and the same rosters as the Parley
 * gateway it is compared with.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { freeTcpPort } from '../../server-common/test-support/ports.js';
import { createDatabase } from '../../server-common/test-support/postgresServer.js';
import { benchDatabase, processTree, ROOT, type BenchStore } from '../support/benchEnv.js';
import { rosterItems, type XmppTarget } from '../xmpp/xmppScenarios.js';

const SCHEMAS = '/usr/share/ejabberd/sql';

export interface EjabberdServer extends XmppTarget {
  stop(): Promise<void>;
}

/** Whether ejabberd and the SQL drivers it needs here are installed. */
export function ejabberdInstalled(): boolean {
  const erlangLibs = '/usr/lib/erlang/lib';
  return fs.existsSync(path.join(SCHEMAS, 'pg.sql')) && fs.existsSync(erlangLibs) && fs.readdirSync(erlangLibs).some((d) => d.startsWith('p1_pgsql-'));
}

type UserRow = [username: string, storedKey: string, serverKey: string, salt: string, iterations: number];
// Subscription B(oth), no pending ask: as Parley's 'both' rows.
const ROSTER_COLUMNS = "username, jid, nick, subscription, ask, askmessage, server, subscribe, type) VALUES";
const rosterValues = (owner: string, contact: string) => [owner, contact, '', 'B', 'N', '', 'N', '', 'item'];

/** Parley's bench accounts as ejabberd stores SCRAM credentials (the same salts and keys). */
async function userRows(users: number): Promise<UserRow[]> {
  const parley = new Database(await benchDatabase(users), { readonly: true });
  const rows = parley.prepare('SELECT username, scram_sha1 AS scram FROM accounts').all() as Array<{ username: string; scram: string }>;
  parley.close();
  return rows.map((r) => {
    const k = JSON.parse(r.scram) as { salt: string; iterations: number; storedKey: string; serverKey: string };
    return [r.username, k.storedKey, k.serverKey, k.salt, k.iterations];
  });
}

/** Creates ejabberd's database with the accounts and rosters; returns the config's `sql_*` lines. */
async function database(dir: string, users: number, store: BenchStore): Promise<string> {
  const rows = await userRows(users);
  if (store.kind === 'sqlite') {
    const file = path.join(dir, 'ejabberd.db');
    const db = new Database(file);
    db.exec(fs.readFileSync(path.join(SCHEMAS, 'lite.sql'), 'utf8'));
    const user = db.prepare('INSERT INTO users (username, password, serverkey, salt, iterationcount) VALUES (?, ?, ?, ?, ?)');
    const item = db.prepare(`INSERT INTO rosterusers (${ROSTER_COLUMNS} (?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    db.transaction(() => {
      for (const r of rows) user.run(...r);
      for (const [owner, contact] of rosterItems()) item.run(...rosterValues(owner, contact));
    })();
    db.close();
    // More than one connection races on SQLite (ejabberd says so at start).
    return `sql_type: sqlite\nsql_database: "${file}"\nsql_pool_size: 1`;
  }
  const url = new URL(await createDatabase(store.serverUrl, 'ejabberd'));
  const client = new pg.Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query(fs.readFileSync(path.join(SCHEMAS, 'pg.sql'), 'utf8'));
    for (let i = 0; i < rows.length; i += 1000) {
      const batch = rows.slice(i, i + 1000);
      await client.query(
        'INSERT INTO users (username, "password", serverkey, salt, iterationcount) SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[])',
        [0, 1, 2, 3, 4].map((c) => batch.map((r) => r[c])),
      );
    }
    for (const [owner, contact] of rosterItems()) await client.query(`INSERT INTO rosterusers (${ROSTER_COLUMNS} ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, rosterValues(owner, contact));
  } finally {
    await client.end();
  }
  // ejabberd's default pool (10 connections), as Parley's gateway keeps its own pool.
  return [`sql_type: pgsql`, `sql_server: "${url.hostname}"`, `sql_port: ${url.port}`, `sql_database: "${url.pathname.slice(1)}"`, `sql_username: "${url.username}"`, `sql_password: ""`].join('\n');
}

async function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}

export interface EjabberdOptions {
  store: BenchStore;
  /** mod_mam archiving every message (as Parley does), or no archive at all. */
  archive: boolean;
}

export async function startEjabberd(users: number, { store, archive }: EjabberdOptions): Promise<EjabberdServer> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-ejabberd-'));
  const [xmppPort, httpPort, distPort] = [await freeTcpPort(), await freeTcpPort(), await freeTcpPort()];
  const config = fs
    .readFileSync(path.join(ROOT, 'bench/reference/ejabberd.yml'), 'utf8')
    .replace('@C2S_PORT@', String(xmppPort))
    .replace('@HTTP_PORT@', String(httpPort))
    .replace('@SQL@', await database(dir, users, store))
    .replace('@MAM@', archive ? '  mod_mam:\n    db_type: sql\n    default: always' : '');
  fs.writeFileSync(path.join(dir, 'ejabberd.yml'), config);
  // Its own control settings (the system's would point at /etc/ejabberd), and a distribution
  // port of its own so that no epmd daemon is started and left behind.
  fs.writeFileSync(path.join(dir, 'ejabberdctl.cfg'), `ERL_DIST_PORT=${distPort}\nERLANG_NODE=parley-bench@localhost\n`);
  fs.writeFileSync(path.join(dir, 'inetrc'), '');
  spawnSync('chown', ['-R', 'ejabberd', dir]);
  // Started as the ejabberd user directly: run as root, ejabberdctl would go through su, whose
  // PAM session lowers the open-file limit to 1024 — the server would stall at a thousand clients.
  const id = (flag: string) => Number(spawnSync('id', [flag, 'ejabberd'], { encoding: 'utf8' }).stdout.trim());
  const proc = spawn('ejabberdctl', ['-c', path.join(dir, 'ejabberdctl.cfg'), '-d', dir, '-f', path.join(dir, 'ejabberd.yml'), '-s', dir, '-l', dir, 'foreground'], {
    stdio: ['ignore', 'ignore', 'pipe'],
    uid: id('-u'),
    gid: id('-g'),
    cwd: dir,
    env: { ...process.env, HOME: dir },
  });
  let err = '';
  proc.stderr!.on('data', (d) => (err += d));
  for (let i = 0; i < 150 && !(await listening(xmppPort)); i++) {
    if (proc.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  if (!(await listening(xmppPort))) {
    proc.kill('SIGKILL');
    throw new Error(`ejabberd did not start:\n${err}\n${fs.readFileSync(path.join(dir, 'ejabberd.log'), 'utf8').slice(-2000)}`);
  }
  return {
    pid: proc.pid!,
    xmppPort,
    httpPort,
    async stop() {
      // The VM (the tree's leaf) ends cleanly on SIGTERM; the su and shell above it follow.
      const tree = processTree(proc.pid!).reverse();
      const signal = (sig: NodeJS.Signals) => {
        for (const p of tree) {
          try {
            process.kill(p, sig);
          } catch {
            // already gone
          }
        }
      };
      const exited = proc.exitCode === null ? new Promise((r) => proc.once('exit', r)) : Promise.resolve();
      signal('SIGTERM');
      const timer = setTimeout(() => signal('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}
