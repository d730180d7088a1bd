/**
 * The operator's command line: `npx parley user …`, `npx parley embed-key …`,
 * `npx parley db migrate|status|copy`, `npx parley start`.
 * It works on the same records as the running gateways (SQLite in PARLEY_DATA — WAL mode makes
 * sharing the file safe — or DATABASE_URL); they hear its changes and drop what they cached.
 */
import crypto from 'node:crypto';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import { createLogger } from '../../../server-common/logger.js';
import { deriveKey } from '../../../server-common/secret.js';
import { ConfigError, loadConfig, type GatewayConfig } from '../config.js';
import { AccountDirectory } from '../directory/accountDirectory.js';
import { AccountError } from '../directory/accountStore.js';
import { AppPasswords, type AppPasswordScope } from '../directory/appPasswords.js';
import { issueEmbedKey } from '../embed/embedKeys.js';
import { SessionStore } from '../session/sessionStore.js';
import { CopyError, copySqliteToPostgres } from '../storage/copy/databaseCopy.js';
import { MigrationError, migrate, schemaStatus } from '../storage/migrations/migrator.js';
import { SqlAppPasswordRecords } from '../storage/records/appPasswordRecords.js';
import { SqlAccountRecords } from '../storage/records/accountRecords.js';
import { SqlEmbedKeyRecords } from '../storage/records/embedKeyRecords.js';
import { SqlSecretRecords } from '../storage/records/secretRecords.js';
import { SqlSessionRecords } from '../storage/records/sessionRecords.js';
import { redactUrl } from '../storage/sql/postgresDatabase.js';
import type { SqlDatabase } from '../storage/sql/sqlDatabase.js';
import { SqliteDatabase } from '../storage/sql/sqliteDatabase.js';
import { openDatabase, serverSecret, Storage } from '../storage/storage.js';

const USAGE = `Usage:
  parley start                                     run the server (same as npm start)
  parley user add <name> [--password <pw>] [--display-name <text>]
  parley user list
  parley user del <name>
  parley user passwd <name> [--password <pw>]
  parley user disable <name>                       no sign-in of any kind; ends their web sessions,
                                                   SIP registrations and XMPP sessions
  parley user enable <name>
  parley app-password add <name> --label <device> [--sip] [--xmpp]
                                                   a password for one phone or XMPP client (both
                                                   when neither is given); printed once
  parley app-password list <name>
  parley app-password revoke <name> <id>           ends that device's registrations and sessions
  parley embed-key --origin <https://site> [--origin …] [--room <name|prefix-*|*>] [--days <n>]
                                                   a key that lets pages on those sites embed
                                                   meetings for guests (origins must also be
                                                   in PARLEY_EMBED_ORIGINS)
  parley embed-key list                            the keys issued, and which still count
  parley embed-key revoke <id>                     withdraw a key at once
  parley db status                                 where the records are, and their schema version
  parley db migrate                                bring the schema up to date (start does it too)
  parley db copy --from sqlite:<dir> --to postgres://…
                                                   copy an installation's records to PostgreSQL
                                                   (stop it first; safe to run again)

Without --password you are asked for it (or it is read from stdin when not a terminal).
Settings come from the environment (PARLEY_DATA, DATABASE_URL, PARLEY_DOMAIN, …); see README.md.`;

class UsageError extends Error {}

export async function runCli(argv: string[]): Promise<number> {
  const [command, sub, ...rest] = argv;
  if (!command || command === 'help' || command === '--help' || command === '-h') {
    console.log(USAGE);
    return command ? 0 : 2;
  }
  if (command === 'start') {
    await import('../main.js');
    return -1; // keep running
  }
  try {
    if (command === 'embed-key') return await embedKeyCommand(argv.slice(1));
    if (command === 'db') return await dbCommand(sub, rest);
    if (command === 'user' && sub) return await userCommand(sub, rest);
    if (command === 'app-password' && sub) return await appPasswordCommand(sub, rest);
    console.error(`Unknown command "${argv.join(' ')}".\n\n${USAGE}`);
    return 2;
  } catch (err) {
    if (err instanceof AccountError || err instanceof UsageError || err instanceof MigrationError || err instanceof CopyError || err instanceof ConfigError) {
      console.error(err.message);
      return 1;
    }
    if (err instanceof Error && /^Cannot use the PostgreSQL database/.test(err.message)) {
      console.error(err.message);
      return 1;
    }
    throw err;
  }
}

/** The main database of the configured installation, schema brought up to date (not the archive). */
async function openRecords(config: GatewayConfig): Promise<SqlDatabase> {
  const db = await openDatabase({
    databaseUrl: config.database.url,
    poolSize: 2,
    dataDir: config.dataDir,
    logger: createLogger('silent'),
    watchMs: 0,
  });
  try {
    await migrate(db, 'main');
    return db;
  } catch (err) {
    await db.close();
    throw err;
  }
}

/** The secret the gateways use (see serverSecret in storage.ts); created here if no gateway ran yet. */
function secretOf(db: SqlDatabase, config: GatewayConfig): Promise<Buffer> {
  return serverSecret(new SqlSecretRecords(db), config.secret, config.dataDir);
}

async function userCommand(sub: string, rest: string[]): Promise<number> {
  const config = loadConfig();
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { password: { type: 'string' }, 'display-name': { type: 'string' } },
  });
  const db = await openRecords(config);
  const accounts = accountDirectoryOf(db, config);
  try {
    switch (sub) {
      case 'add': {
        const name = requireName(positionals);
        const password = values.password ?? (await askPassword(`Password for ${name}: `));
        const account = await accounts.create({ username: name, password, displayName: values['display-name'] });
        console.log(`Created ${account.username}@${config.domain}. They can sign in at ${config.http.publicUrl}`);
        return 0;
      }
      case 'list': {
        const list = await accounts.list();
        if (!list.length) console.log('No accounts yet. Add one with: npx parley user add <name>');
        for (const a of list) {
          const notes = [a.provider ? `via ${a.provider}` : 'local', ...(a.disabledAt !== undefined ? [`disabled ${new Date(a.disabledAt).toISOString()}`] : [])];
          console.log(`${a.username}\t${a.displayName}\t${new Date(a.createdAt).toISOString()}\t${notes.join(', ')}`);
        }
        return 0;
      }
      case 'disable':
      case 'enable': {
        const name = requireName(positionals);
        if (!(await accounts.setDisabled(name, sub === 'disable'))) {
          console.error(`No account named "${name}".`);
          return 1;
        }
        if (sub === 'enable') {
          console.log(`Enabled ${name}: they can sign in again.`);
          return 0;
        }
        // The gateways hear the change and end the account's SIP registrations and XMPP sessions.
        await sessionStoreOf(db, config).then((sessions) => sessions.deleteAllFor(name));
        console.log(`Disabled ${name}: their web sessions, SIP registrations and XMPP sessions end, and no sign-in works until: npx parley user enable ${name}`);
        return 0;
      }
      case 'del':
      case 'delete': {
        const name = requireName(positionals);
        if (!(await accounts.delete(name))) {
          console.error(`No account named "${name}".`);
          return 1;
        }
        console.log(`Deleted ${name}; their sessions ended.`);
        return 0;
      }
      case 'passwd': {
        const name = requireName(positionals);
        const password = values.password ?? (await askPassword(`New password for ${name}: `));
        if (!(await accounts.setPassword(name, password))) {
          console.error(`No account named "${name}".`);
          return 1;
        }
        // A new password signs the user out everywhere.
        await (await sessionStoreOf(db, config)).deleteAllFor(name);
        console.log(`Password changed for ${name}; their other sessions were signed out.`);
        return 0;
      }
      default:
        console.error(`Unknown command "user ${sub}".\n\n${USAGE}`);
        return 2;
    }
  } finally {
    await db.close();
  }
}

async function embedKeyCommand(args: string[]): Promise<number> {
  if (args[0] === 'list' || args[0] === 'revoke') return embedKeyAdmin(args[0], args.slice(1));
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: { origin: { type: 'string', multiple: true }, room: { type: 'string' }, days: { type: 'string' } },
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const config = configOrExplain();
  if (!config) return 2;
  const origins: string[] = [];
  for (const o of values.origin ?? []) {
    try {
      const url = new URL(o);
      if (url.origin !== o.replace(/\/$/, '')) throw new Error();
      origins.push(url.origin);
    } catch {
      console.error(`--origin ${o}: give only scheme://host[:port], like https://www.example.org`);
      return 2;
    }
  }
  if (!origins.length) {
    console.error(`Give at least one --origin.\n\n${USAGE}`);
    return 2;
  }
  const rooms = (values.room ?? '*').toLowerCase();
  if (!/^(\*|[a-z0-9-]{1,64}\*?)$/.test(rooms)) {
    console.error('--room: a meeting name, a prefix ending in * (physics-*), or * for any meeting');
    return 2;
  }
  const days = Number(values.days ?? 365);
  if (!Number.isInteger(days) || days < 1 || days > 3650) {
    console.error('--days: a whole number of days from 1 to 3650');
    return 2;
  }
  const db = await openRecords(config);
  try {
    const id = crypto.randomBytes(9).toString('base64url');
    const secret = await secretOf(db, config);
    const { key, expiresAt } = await issueEmbedKey({ id, origins, rooms }, new Uint8Array(deriveKey(secret, 'embed-key')), days * 86400);
    // Recorded, so the key can be listed and revoked; a key without its record is refused.
    await new SqlEmbedKeyRecords(db).insert({ id, origins, rooms, createdAt: Date.now(), expiresAt });
    const notAllowed = origins.filter((o) => !config.embed.origins.includes(o));
    console.log(key);
    console.error(`Embed key ${id} for ${origins.join(', ')}, meetings ${rooms}, valid until ${new Date(expiresAt).toISOString()}.`);
    console.error(`Withdraw it with: npx parley embed-key revoke ${id}`);
    if (notAllowed.length) console.error(`Note: add ${notAllowed.join(', ')} to PARLEY_EMBED_ORIGINS, or browsers will not let those sites frame Parley.`);
    return 0;
  } finally {
    await db.close();
  }
}

async function embedKeyAdmin(sub: 'list' | 'revoke', args: string[]): Promise<number> {
  const config = loadConfig();
  const db = await openRecords(config);
  try {
    const keys = new SqlEmbedKeyRecords(db);
    if (sub === 'list') {
      const all = await keys.list();
      if (!all.length) console.log('No embed keys yet. Issue one with: npx parley embed-key --origin https://your.site');
      const now = Date.now();
      for (const k of all) {
        const state = k.revokedAt ? `revoked ${new Date(k.revokedAt).toISOString()}` : k.expiresAt <= now ? 'expired' : `valid until ${new Date(k.expiresAt).toISOString()}`;
        console.log(`${k.id}\t${k.origins.join(',')}\t${k.rooms}\t${state}`);
      }
      return 0;
    }
    if (args.length !== 1) throw new UsageError(`Give the id of the key to revoke (npx parley embed-key list shows them).\n\n${USAGE}`);
    if (!(await keys.revoke(args[0]))) {
      console.error(`No embed key "${args[0]}" that still counts (npx parley embed-key list shows them).`);
      return 1;
    }
    console.log(`Embed key ${args[0]} revoked: pages using it can no longer admit guests.`);
    return 0;
  } finally {
    await db.close();
  }
}

async function dbCommand(sub: string | undefined, args: string[]): Promise<number> {
  if (sub === 'copy') return dbCopy(args);
  const config = loadConfig();
  const where = config.database.url ? `PostgreSQL ${redactUrl(config.database.url)}` : `SQLite in ${config.dataDir}`;
  if (sub === 'status') {
    const db = await openDatabase({ databaseUrl: config.database.url, poolSize: 1, dataDir: config.dataDir, logger: createLogger('silent'), watchMs: 0 });
    try {
      console.log(`Records: ${where}`);
      const main = await schemaStatus(db, 'main');
      let archive = main;
      if (db.dialect === 'postgres') archive = await schemaStatus(db, 'archive');
      else {
        const file = new SqliteDatabase({ dir: config.dataDir, file: 'archive.db' });
        try {
          archive = await schemaStatus(file, 'archive');
        } finally {
          await file.close();
        }
      }
      for (const [scope, s] of [['main', main], ['archive', archive]] as const) {
        const pending = s.pending.map((m) => `${m.version} ${m.name}`).join('; ');
        console.log(`  ${scope}: version ${s.current} of ${s.latest}${pending ? ` — to apply: ${pending}` : ' (up to date)'}`);
      }
      return main.pending.length || archive.pending.length ? 3 : 0;
    } finally {
      await db.close();
    }
  }
  if (sub === 'migrate') {
    const storage = await Storage.open({
      databaseUrl: config.database.url,
      poolSize: 2,
      dataDir: config.dataDir,
      logger: createLogger('silent'),
      watchMs: 0,
      archiveThread: false,
    });
    try {
      console.log(`Records: ${where}`);
      for (const m of storage.migrations) {
        console.log(m.applied.length ? `  ${m.scope}: ${m.from} → ${m.to} (${m.applied.map((a) => a.name).join('; ')})` : `  ${m.scope}: version ${m.to}, up to date`);
      }
      return 0;
    } finally {
      await storage.close();
    }
  }
  console.error(`Unknown command "db ${sub ?? ''}".\n\n${USAGE}`);
  return 2;
}

async function dbCopy(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { from: { type: 'string' }, to: { type: 'string' } } });
  const from = values.from ?? '';
  const to = values.to ?? '';
  if (!from.startsWith('sqlite:') || !/^postgres(ql)?:\/\//.test(to)) {
    throw new UsageError(`Give --from sqlite:<data directory> and --to postgres://user:password@host/database.\n\n${USAGE}`);
  }
  const fromDir = from.slice('sqlite:'.length) || '.';
  console.log(`Copying the records in ${fromDir} to PostgreSQL ${redactUrl(to)} …`);
  let last = '';
  const result = await copySqliteToPostgres({
    fromDir,
    toUrl: to,
    logger: createLogger('silent'),
    onProgress: (table, done, total) => {
      const line = `  ${table}: ${done}/${total}`;
      if (process.stdout.isTTY) process.stdout.write(`\r${line}   `);
      last = line;
    },
  });
  if (process.stdout.isTTY && last) process.stdout.write('\n');
  for (const t of result.tables) console.log(`  ${t.table.padEnd(12)} ${String(t.source).padStart(8)} rows, ${t.inserted} copied now, all ${t.present} present`);
  if (result.secretFromFile) console.log('  server secret: moved from secret.key (guest links and embed keys keep working)');
  if (result.secretMismatch) {
    console.log('  Warning: the target already had another server secret; guest links and embed keys made before the copy must be issued again.');
  }
  console.log(`Done. Start Parley with DATABASE_URL=${redactUrl(to)} (and the password).`);
  return 0;
}

/** The settings, or undefined after saying what is wrong with them. */
function configOrExplain(): GatewayConfig | undefined {
  try {
    return loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(err.message);
      return undefined;
    }
    throw err;
  }
}

function accountDirectoryOf(db: SqlDatabase, config: GatewayConfig): AccountDirectory {
  return new AccountDirectory({
    records: new SqlAccountRecords(db),
    realm: config.domain,
    passwordHashCost: config.auth.passwordHashCost,
    scramIterations: config.auth.scramIterations,
  });
}

async function sessionStoreOf(db: SqlDatabase, config: GatewayConfig): Promise<SessionStore> {
  return new SessionStore({
    records: new SqlSessionRecords(db),
    sipKey: deriveKey(await secretOf(db, config), 'sip-session'),
    realm: config.domain,
    ttlSeconds: 1,
  });
}

async function appPasswordCommand(sub: string, rest: string[]): Promise<number> {
  const config = loadConfig();
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { label: { type: 'string' }, sip: { type: 'boolean' }, xmpp: { type: 'boolean' } },
  });
  const db = await openRecords(config);
  const accounts = accountDirectoryOf(db, config);
  const appPasswords = new AppPasswords({ records: new SqlAppPasswordRecords(db), accounts, realm: config.domain, maxPerUser: config.auth.appPasswordsMax });
  try {
    switch (sub) {
      case 'add': {
        const name = requireName(positionals);
        if (!values.label) throw new UsageError(`Name the device with --label (for example --label "Desk phone").\n\n${USAGE}`);
        const scopes: AppPasswordScope[] = values.sip || values.xmpp ? [...(values.sip ? ['sip' as const] : []), ...(values.xmpp ? ['xmpp' as const] : [])] : ['sip', 'xmpp'];
        const { appPassword, password } = await appPasswords.create(name, values.label, scopes);
        console.log(password);
        console.error(`App password ${appPassword.id} "${appPassword.label}" for ${name}@${config.domain} (${scopes.join(' and ').toUpperCase()}). It is not shown again.`);
        console.error(`Revoke it with: npx parley app-password revoke ${name} ${appPassword.id}`);
        return 0;
      }
      case 'list': {
        const name = requireName(positionals);
        const list = await appPasswords.list(name);
        if (!list.length) console.log(`${name} has no app passwords. Make one with: npx parley app-password add ${name} --label <device>`);
        for (const a of list) {
          const used = a.lastUsedAt ? `last used ${new Date(a.lastUsedAt).toISOString()} (${a.lastUsedBy ?? ''})` : 'never used';
          console.log(`${a.id}\t${a.label}\t${a.scopes.join(',')}\tcreated ${new Date(a.createdAt).toISOString()}\t${used}`);
        }
        return 0;
      }
      case 'revoke': {
        if (positionals.length !== 2) throw new UsageError(`Give the user and the app password's id (npx parley app-password list <name> shows them).\n\n${USAGE}`);
        const [name, id] = positionals;
        if (!(await appPasswords.revoke(name, id))) {
          console.error(`${name} has no app password "${id}" (npx parley app-password list ${name} shows them).`);
          return 1;
        }
        console.log(`Revoked app password ${id} of ${name}: the device's registrations and sessions end.`);
        return 0;
      }
      default:
        console.error(`Unknown command "app-password ${sub}".\n\n${USAGE}`);
        return 2;
    }
  } finally {
    await db.close();
  }
}

function requireName(positionals: string[]): string {
  if (positionals.length !== 1) throw new UsageError(`Give exactly one user name.\n\n${USAGE}`);
  return positionals[0];
}

async function askPassword(prompt: string): Promise<string> {
  if (!process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    const pw = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
    if (!pw) throw new UsageError('No password given: use --password or pipe it on stdin.');
    return pw;
  }
  const rl = readline.createInterface({ input: process.stdin, output: process.stdout, terminal: true });
  // Hide what is typed: echo nothing but the prompt.
  const out = rl as unknown as { _writeToOutput: (s: string) => void };
  let prompted = false;
  out._writeToOutput = (s: string) => {
    if (!prompted) {
      process.stdout.write(s);
      prompted = true;
    }
  };
  const pw = await new Promise<string>((resolve) => rl.question(prompt, resolve));
  rl.close();
  process.stdout.write('\n');
  return pw;
}
