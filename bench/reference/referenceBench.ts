/**
 * Parley against the reference servers of the platform it replaces (`npm run bench -- reference`),
 * in the same run on the same machine, so the figures are read as ratios:
 *   - SIP: Debian's Kamailio 5.6 (`bench/reference/kamailio.cfg`: registrar + proxy, location in
 *     memory, 4 children, HA1 in SQLite) against one Parley gateway (records on SQLite), with the
 *     same sipp load: digest REGISTER/s for 10,000 users over UDP, then proxied calls/s (INVITE
 *     with its 407 … BYE), and the memory (PSS of each one's process tree) with 10,000 bindings.
 *   - XMPP: Debian's ejabberd 23.01 (`bench/reference/ejabberd.yml`: SCRAM keys, rosters and the
 *     archive in SQLite) against one Parley gateway, with the same load client and the same
 *     scenarios as `bench/xmpp`: SCRAM-SHA-1 sessions/s over TCP and WebSocket, messages/s
 *     between 50 pairs (archive on), presence fan-out to 200, PSS with 5,000 sessions open.
 * With BENCH_ROUNDS=n the two take turns n times and each keeps its best round; BENCH_ONLY=sip
 * or xmpp runs one half.
 */
import { sipReference } from './sipReference.js';
import { xmppReference } from './xmppReference.js';

const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 1) || 1);
const ONLY = process.env.BENCH_ONLY;

async function main(): Promise<void> {
  if (ONLY !== 'xmpp') await sipReference(ROUNDS);
  if (ONLY !== 'sip') await xmppReference(ROUNDS);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
