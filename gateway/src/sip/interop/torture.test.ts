/**
 * All 49 RFC 4475 torture messages, byte-exact, sent over UDP to the gateway running as its own
 * process, each checked for the answer RFC 4475 describes for it — or for no answer, where the
 * RFC says the message is dropped (responses that match no transaction).
 *
 * The gateway serves example.com, the torture messages' domain, as registrar and proxy. Valid
 * requests must be processed, not rejected as malformed: requests the proxy would route are
 * challenged (407) before anything is routed, foreign domains are refused (403, no relay), and
 * REGISTERs are challenged (401). Answers go where each message's top Via says (received
 * 127.0.0.1, the Via's port or 5060), so the test listens on those ports — which is why the
 * gateway itself listens on a port of its own.
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayProcess } from '../../../test-support/gatewayProcess.js';
import { sharedPath } from '../../../test-support/shared.js';

const TORTURE = sharedPath('sip-torture', 'messages');

/** The final status RFC 4475 leads to for each message here, or 'drop'. */
const EXPECTED: Record<string, number | 'drop' | number[]> = {
  // 3.1.1 valid messages: processed as any other request.
  wsinv: 481, // it carries a To tag: a dialog that does not run through this proxy
  intmeth: 407, // an unknown method to a user of ours: proxied after authentication
  esc01: 403, // INVITE to example.net
  escnull: 401, // REGISTER with an escaped NUL in the To user
  esc02: 403, // RE%47IST%45R is not REGISTER: an unknown method to registrar.example.com, not ours
  lwsdisp: 407,
  longreq: 407,
  dblreq: 401, // the REGISTER; the INVITE after it in the datagram is extra octets
  semiuri: 407,
  transports: 407,
  mpart01: 403, // MESSAGE to example.org
  unreason: 'drop', // responses matching no transaction
  noreason: 'drop',
  // 3.1.2 invalid messages: 400 (505 for the version), responses dropped.
  badinv01: 400,
  clerr: 400, // Content-Length larger than the datagram (RFC 3261 §18.3)
  scalar02: 400,
  scalarlg: 'drop',
  quotbal: 400,
  ltgtruri: 400,
  lwsruri: 400,
  lwsstart: 400,
  trws: 400,
  escruri: 400,
  baddate: 407, // liberal, as RFC 4475 allows: the Date is not used, so it is ignored
  regbadct: 400,
  badaspec: 400,
  baddn: 400,
  badvers: 505,
  mismatch01: 400,
  mismatch02: 400, // 501 is also acceptable
  bigcode: 'drop',
  ncl: 400,
  // 3.2 transaction layer
  badbranch: 407, // a branch of just the magic cookie is still a branch
  // 3.3 application layer
  insuf: 400,
  unkscm: 416,
  novelsc: 416,
  unksm2: 400, // a registrar needs a SIP or SIPS URI in To
  bext01: 420, // with Unsupported: the Proxy-Require tags
  invut: 415, // with Accept: application/sdp
  regaut01: 401, // an Authorization scheme nobody knows: challenge
  multi01: 400,
  mcl01: 400,
  bcast: 'drop',
  zeromf: 483,
  cparam01: 401,
  cparam02: 401,
  regescrt: 401,
  sdp01: 407, // the proxy authenticates before anything else; a UAS would say 406
  // 3.4 backward compatibility
  inv2543: 407,
};

let gw: GatewayProcess;
let sockets: dgram.Socket[] = [];
const received: Array<{ port: number; text: string }> = [];

function bind(port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    s.once('error', (err) => reject(new Error(`cannot listen on 127.0.0.1:${port} for the torture answers: ${err.message}`)));
    s.on('message', (data) => received.push({ port, text: data.toString('latin1') }));
    s.bind(port, '127.0.0.1', () => resolve(s));
  });
}

beforeAll(async () => {
  if (!TORTURE) return;
  // Answers go to the Via's port: 5060 by default, 5050 for quotbal; mpart01 asks for rport.
  sockets = [await bind(5060), await bind(5050)];
  gw = new GatewayProcess({ env: { PARLEY_DOMAIN: 'example.com' } });
  gw.addUser('user', 'user-secret-1');
  await gw.start();
}, 60_000);

afterAll(async () => {
  for (const s of sockets) s.close();
  await gw?.stop();
});

/**
 * Some messages reuse another's branch and sent-by (cparam01/cparam02, escnull/regescrt …):
 * RFC 3261 §17.2.3 makes the second a retransmission of the first while that transaction
 * lives, and the gateway rightly answers it with the first one's response. So a message whose
 * transaction key was used before waits until that transaction has ended (a completed
 * transaction lingers T4, 5 s).
 */
const TRANSACTION_LINGER_MS = 5500;
const sentAt = new Map<string, number>();

function transactionKey(bytes: Buffer): string {
  const text = bytes.toString('latin1');
  const via = /^(?:via|v)[ \t]*:(.*)$/im.exec(text)?.[1] ?? '';
  const branch = /branch=([^;,\s]*)/i.exec(via)?.[1] ?? '';
  const sentBy = /SIP\s*\/\s*2\.0\s*\/\s*\S+\s+([^;\s]+)/i.exec(via)?.[1] ?? '';
  return `${branch}|${sentBy}|${text.split(' ', 1)[0]}`;
}

function callIdOf(bytes: Buffer): string | undefined {
  const m = /^(?:call-id|i)[ \t]*:[ \t]*(\S+)/im.exec(bytes.toString('latin1'));
  return m?.[1];
}

/** What ties an answer to its message: the Call-ID, or (insuf has none) the CSeq. */
function markOf(bytes: Buffer): string {
  return callIdOf(bytes) ?? /^CSeq[ \t]*:[ \t]*(.+?)\r?$/im.exec(bytes.toString('latin1'))![1];
}

/** Sends one message from port 5060 and collects what comes back for it. */
async function exchange(bytes: Buffer, expectAnswer: boolean): Promise<number[]> {
  const mark = markOf(bytes);
  const key = transactionKey(bytes);
  const earlier = sentAt.get(key);
  if (earlier !== undefined) await new Promise((r) => setTimeout(r, Math.max(0, earlier + TRANSACTION_LINGER_MS - Date.now())));
  sentAt.set(key, Date.now());
  const start = received.length;
  sockets[0].send(bytes, gw.sipPort, '127.0.0.1');
  const mine = () =>
    received
      .slice(start)
      .filter((r) => r.text.includes(mark))
      .map((r) => Number(/^SIP\/2\.0 (\d{3})/.exec(r.text)?.[1] ?? 0));
  const deadline = Date.now() + (expectAnswer ? 3000 : 800);
  while (Date.now() < deadline) {
    if (expectAnswer && mine().some((s) => s >= 200)) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  // Anything more (a second final answer) would arrive within moments.
  await new Promise((r) => setTimeout(r, 100));
  return mine();
}

describe.skipIf(!TORTURE)('RFC 4475 torture messages over UDP', () => {
  const files = TORTURE ? fs.readdirSync(TORTURE).filter((f) => f.endsWith('.dat')).sort() : [];

  it('are all 49 here, each with an expectation', () => {
    expect(files).toHaveLength(49);
    expect(files.map((f) => f.replace(/\.dat$/, '')).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  it.each(files.map((f) => [f.replace(/\.dat$/, ''), f]))('%s gets what RFC 4475 describes', { timeout: 15_000 }, async (name, file) => {
    const bytes = fs.readFileSync(path.join(TORTURE!, file));
    const expected = EXPECTED[name];
    const statuses = await exchange(bytes, expected !== 'drop');
    // A final answer to an INVITE is retransmitted until ACKed (we never ACK): count it once.
    const finals = [...new Set(statuses.filter((s) => s >= 200))];
    if (expected === 'drop') {
      expect(statuses).toEqual([]);
    } else {
      expect(finals).toEqual([expected]);
    }
  });

  it('say what they refuse: Unsupported on 420, Accept on 415, a challenge on 401', async () => {
    const answer = (name: string) => {
      const callId = callIdOf(fs.readFileSync(path.join(TORTURE!, `${name}.dat`)))!;
      return received.map((r) => r.text).find((t) => t.includes(callId) && /^SIP\/2\.0 [2-6]/.test(t))!;
    };
    expect(answer('bext01')).toMatch(/^Unsupported: *noProxiesSupportThis, *norDoAnyProxiesSupportThis\r$/im);
    expect(answer('invut')).toMatch(/^Accept: *application\/sdp\r$/im);
    expect(answer('regaut01')).toMatch(/^WWW-Authenticate: *Digest /im);
    expect(answer('unkscm')).toMatch(/^SIP\/2\.0 416 /);
  });
});
