/**
 * The operator's command line: `npx parley user add|list|del|passwd`, `npx parley embed-key`,
 * `npx parley start`.
 * It opens the same SQLite database as the running server (WAL mode makes that safe).
 */
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig, type GatewayConfig } from '../config.js';
import { AccountError } from '../directory/accountStore.js';
import { SqliteAccountStore } from '../directory/sqliteAccountStore.js';
import { SessionStore } from '../session/sessionStore.js';
import { openDatabase } from '../storage/database.js';
import { issueEmbedKey } from '../embed/embedKeys.js';
import { deriveKey, loadOrCreateSecret } from '../../../server-common/secret.js';

const USAGE = `Usage:
  parley start                                     run the server (same as npm start)
  parley user add <name> [--password <pw>] [--display-name <text>]
  parley user list
  parley user del <name>
  parley user passwd <name> [--password <pw>]
  parley embed-key --origin <https://site> [--origin …] [--room <name|prefix-*|*>] [--days <n>]
                                                   a key that lets pages on those sites embed
                                                   meetings for guests (origins must also be
                                                   in PARLEY_EMBED_ORIGINS)

Without --password you are asked for it (or it is read from stdin when not a terminal).
Settings come from the environment (PARLEY_DATA, PARLEY_DOMAIN, …); see README.md.`;

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
  if (command === 'embed-key') return embedKeyCommand(argv.slice(1));
  if (command !== 'user' || !sub) {
    console.error(`Unknown command "${argv.join(' ')}".\n\n${USAGE}`);
    return 2;
  }
  const config = configOrExplain();
  if (!config) return 2;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: { password: { type: 'string' }, 'display-name': { type: 'string' } },
  });
  const db = openDatabase(config.dataDir);
  const accounts = new SqliteAccountStore({
    db,
    realm: config.domain,
    passwordHashCost: config.auth.passwordHashCost,
    scramIterations: config.auth.scramIterations,
  });
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
        for (const a of list) console.log(`${a.username}\t${a.displayName}\t${new Date(a.createdAt).toISOString()}`);
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
        const secret = loadOrCreateSecret(config.dataDir, config.secret);
        new SessionStore({ db, sipKey: deriveKey(secret, 'sip-session'), realm: config.domain, ttlSeconds: 1 }).deleteAllFor(name);
        console.log(`Password changed for ${name}; their other sessions were signed out.`);
        return 0;
      }
      default:
        console.error(`Unknown command "user ${sub}".\n\n${USAGE}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof AccountError || err instanceof UsageError) {
      console.error(err.message);
      return 1;
    }
    throw err;
  } finally {
    db.close();
  }
}

class UsageError extends Error {}

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

async function embedKeyCommand(args: string[]): Promise<number> {
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
  const secret = loadOrCreateSecret(config.dataDir, config.secret);
  const { key, expiresAt } = await issueEmbedKey({ origins, rooms }, new Uint8Array(deriveKey(secret, 'embed-key')), days * 86400);
  const notAllowed = origins.filter((o) => !config.embed.origins.includes(o));
  console.log(key);
  console.error(`Embed key for ${origins.join(', ')}, meetings ${rooms}, valid until ${new Date(expiresAt).toISOString()}.`);
  if (notAllowed.length) console.error(`Note: add ${notAllowed.join(', ')} to PARLEY_EMBED_ORIGINS, or browsers will not let those sites frame Parley.`);
  return 0;
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
