/** The proxy over real sockets: authentication, routing, forking, dialogs, errors. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  authedRequest as authedRequestWith,
  buildRequest,
  digestAuthorization,
  inDialog,
  register,
  SDP,
  SipClient,
  uid,
  type ReceivedMessage,
  type RequestOptions,
} from '../../../test-support/sipClient.js';
import { startTestGateway, TEST_PASSWORD, type TestGateway } from '../../../test-support/testGateway.js';

let gw: TestGateway;
const clients: SipClient[] = [];

beforeAll(async () => {
  gw = await startTestGateway();
  for (const u of ['alice', 'bob', 'carol', 'dave', 'frank', 'grace']) await gw.addUser(u, TEST_PASSWORD, u === 'alice' ? 'Alice A.' : undefined);
});

afterAll(async () => {
  for (const c of clients) c.close();
  await gw.stop();
});

async function client(user: string, transport: 'udp' | 'tcp' = 'udp') {
  const c = await SipClient.open(gw.sipPort, user, transport);
  clients.push(c);
  return c;
}

const authedRequest = (c: SipClient, o: Omit<RequestOptions, 'cseq' | 'via'> & { password?: string }) => authedRequestWith(c, { password: TEST_PASSWORD, ...o });

function inviteTo(caller: SipClient, callee: string, callId = uid('call-')) {
  return { method: 'INVITE', uri: `sip:${callee}@localhost`, from: caller.user, to: callee, callId, contact: caller.contact, body: SDP };
}

describe('proxy', () => {
  it('challenges an INVITE without credentials with 407', async () => {
    const alice = await client('alice');
    const callId = uid();
    alice.send(buildRequest(alice, { ...inviteTo(alice, 'bob', callId), cseq: 1 }));
    const res = await alice.final(callId, 'INVITE');
    expect(res.status).toBe(407);
    expect(res.headers('Proxy-Authenticate').join()).toMatch(/Digest realm="localhost".*qop="auth"/);
  });

  it('answers 404 for a user that does not exist and 480 for one with no device', async () => {
    const alice = await client('alice');
    const a = await authedRequest(alice, inviteTo(alice, 'nobody-here'));
    expect((await alice.final(a.callId, 'INVITE')).status).toBe(404);
    const b = await authedRequest(alice, inviteTo(alice, 'carol'));
    expect((await alice.final(b.callId, 'INVITE')).status).toBe(480);
  });

  it('never relays to a foreign domain, with or without credentials', async () => {
    const alice = await client('alice');
    const callId = uid();
    alice.send(buildRequest(alice, { ...inviteTo(alice, 'x', callId), uri: 'sip:victim@evil.example.com', cseq: 1 }));
    const res = await alice.final(callId, 'INVITE');
    expect(res.status).toBe(403);
    expect(res.startLine).toMatch(/Relaying Forbidden/);
    // A Route header pointing elsewhere is no way round it either.
    const callId2 = uid();
    alice.send(buildRequest(alice, { ...inviteTo(alice, 'bob', callId2), cseq: 1, extra: ['Route: <sip:evil.example.com;lr>'] }));
    expect((await alice.final(callId2, 'INVITE')).status).toBe(403);
  });

  it('refuses a request whose From is not the authenticated user', async () => {
    const alice = await client('alice');
    const o = inviteTo(alice, 'bob');
    const callId = o.callId;
    alice.send(buildRequest(alice, { ...o, from: 'bob', cseq: 1 }));
    const challenge = await alice.final(callId, 'INVITE');
    const auth = digestAuthorization(challenge, { username: 'alice', password: TEST_PASSWORD, method: 'INVITE', uri: o.uri });
    alice.send(buildRequest(alice, { ...o, from: 'bob', cseq: 2, extra: [auth] }));
    const res = await alice.final(callId, 'INVITE');
    expect(res.status).toBe(403);
    expect(res.startLine).toMatch(/From Does Not Match/);
  });

  it('forks to every device; the first to answer wins, the others get CANCEL; ACK and BYE follow the Record-Route', async () => {
    const desk = await client('bob');
    const phone = await client('bob', 'tcp');
    expect((await register(desk, TEST_PASSWORD)).status).toBe(200);
    expect((await register(phone, TEST_PASSWORD)).status).toBe(200);
    const alice = await client('alice');
    const o = await authedRequest(alice, inviteTo(alice, 'bob'));
    expect((await alice.response(o.callId, 'INVITE', 100)).status).toBe(100);

    const [atDesk, atPhone] = await Promise.all([desk.request('INVITE'), phone.request('INVITE')]);
    // The callee sees who is calling, as vouched for by the proxy.
    expect(atDesk.header('P-Asserted-Identity')).toBe('"Alice A." <sip:alice@localhost>');
    expect(atDesk.header('Proxy-Authorization')).toBeUndefined();
    expect(atDesk.header('Max-Forwards')).toBe('69');
    expect(atDesk.headers('Record-Route').join(',')).toContain(';lr');

    desk.reply(atDesk, 180, 'Ringing');
    phone.reply(atPhone, 180, 'Ringing');
    expect((await alice.response(o.callId, 'INVITE', 180)).status).toBe(180);
    phone.reply(atPhone, 200, 'OK', ['Content-Type: application/sdp'], SDP);
    const ok = await alice.final(o.callId, 'INVITE');
    expect(ok.status).toBe(200);

    const cancel = await desk.request('CANCEL');
    expect(cancel.header('Reason')).toMatch(/cause=200/);
    desk.reply(cancel, 200, 'OK');
    desk.reply(atDesk, 487, 'Request Terminated');

    // ACK and BYE reach the phone over its TCP connection through the proxy.
    const fromTag = `ft${o.callId.slice(0, 8)}`;
    alice.send(inDialog(alice, ok, 'ACK', 2, fromTag));
    await phone.request('ACK');
    alice.send(inDialog(alice, ok, 'BYE', 3, fromTag));
    const bye = await phone.request('BYE');
    phone.reply(bye, 200, 'OK');
    expect((await alice.final(o.callId, 'BYE')).status).toBe(200);

    // The call log has one answered, ended call.
    const entry = (await gw.gateway.callLog.history('alice')).find((e) => e.callId === o.callId)!;
    expect(entry).toMatchObject({ outcome: 'answered', direction: 'outgoing', peer: 'bob' });
    expect(entry.endedAt).toBeGreaterThanOrEqual(entry.answeredAt!);
    desk.close();
    phone.close();
  });

  it('passes a CANCEL on while it rings and answers the caller 487', async () => {
    const dave = await client('dave');
    expect((await register(dave, TEST_PASSWORD)).status).toBe(200);
    const alice = await client('alice');
    const o = await authedRequest(alice, inviteTo(alice, 'dave'));
    const invite = await dave.request('INVITE');
    dave.reply(invite, 180, 'Ringing');
    await alice.response(o.callId, 'INVITE', 180);
    alice.send(buildRequest(alice, { ...o, method: 'CANCEL', body: undefined, contact: undefined, extra: [] }).replace(/CSeq: 2 CANCEL/, 'CSeq: 2 CANCEL'));
    expect((await alice.final(o.callId, 'CANCEL')).status).toBe(200);
    const cancel = await dave.request('CANCEL');
    dave.reply(cancel, 200, 'OK');
    dave.reply(invite, 487, 'Request Terminated');
    expect((await alice.final(o.callId, 'INVITE')).status).toBe(487);
    expect((await gw.gateway.callLog.history('dave')).find((e) => e.callId === o.callId)).toMatchObject({ missed: true, direction: 'incoming' });
    dave.close();
  });

  it('absorbs a retransmitted INVITE instead of forwarding it twice', async () => {
    const frank = await client('frank');
    expect((await register(frank, TEST_PASSWORD)).status).toBe(200);
    const alice = await client('alice');
    const o = await authedRequest(alice, inviteTo(alice, 'frank'));
    const first = await frank.request('INVITE');
    frank.reply(first, 180, 'Ringing'); // stops the proxy's own retransmissions (Timer A)
    await alice.response(o.callId, 'INVITE', 180);
    alice.send(buildRequest(alice, o)); // same branch: a retransmission
    // The proxy repeats its last provisional response to the caller …
    expect((await alice.response(o.callId, 'INVITE', 180)).status).toBe(180);
    // … and does not send the callee a second INVITE.
    await expect(frank.request('INVITE', 500)).rejects.toThrow(/timed out/);
    frank.close();
  });

  it('answers the caller 408 when the callee never responds', async () => {
    const grace = await client('grace');
    expect((await register(grace, TEST_PASSWORD)).status).toBe(200);
    grace.close(); // her registration stays, but nothing answers there any more
    const alice = await client('alice');
    const o = await authedRequest(alice, inviteTo(alice, 'grace'));
    // Timer B is 64*T1; the test gateway runs with T1 = 50 ms.
    expect((await alice.final(o.callId, 'INVITE', 8000)).status).toBe(408);
  });

  it('refuses an in-dialog request with a forged Route', async () => {
    const alice = await client('alice');
    const callId = uid();
    alice.send(
      buildRequest(alice, {
        method: 'BYE',
        uri: 'sip:someone@10.1.2.3:5060',
        from: 'alice',
        to: 'bob',
        toTag: 'x',
        callId,
        cseq: 5,
        extra: [`Route: <sip:127.0.0.1:${gw.sipPort};lr;r=Zm9vCmJhcgpiYXoKcXV4.AAAAAAAAAAAAAA;s=a>`],
      }),
    );
    expect((await alice.final(callId, 'BYE')).status).toBe(403);
  });

  it('answers OPTIONS to itself, 483 at Max-Forwards 0, 420 for an unknown Proxy-Require, 405/501 for itself', async () => {
    const c = await client('alice');
    const opts = { from: 'alice', to: 'alice', callId: uid(), cseq: 1 };
    c.send(buildRequest(c, { ...opts, method: 'OPTIONS', uri: 'sip:localhost' }));
    const options = await c.final(opts.callId, 'OPTIONS');
    expect(options.status).toBe(200);
    expect(options.header('Allow')).toContain('INVITE');

    const mf = { ...opts, callId: uid() };
    c.send(buildRequest(c, { ...mf, method: 'MESSAGE', uri: 'sip:bob@localhost', maxForwards: 0 }));
    expect((await c.final(mf.callId, 'MESSAGE')).status).toBe(483);

    const pr = { ...opts, callId: uid() };
    c.send(buildRequest(c, { ...pr, method: 'MESSAGE', uri: 'sip:bob@localhost', extra: ['Proxy-Require: teleportation'] }));
    const unsupported = await c.final(pr.callId, 'MESSAGE');
    expect(unsupported.status).toBe(420);
    expect(unsupported.header('Unsupported')).toBe('teleportation');

    const inv = { ...opts, callId: uid() };
    c.send(buildRequest(c, { ...inv, method: 'INVITE', uri: 'sip:localhost' }));
    expect((await c.final(inv.callId, 'INVITE')).status).toBe(405);
    const unk = { ...opts, callId: uid() };
    c.send(buildRequest(c, { ...unk, method: 'FROBNICATE', uri: 'sip:localhost' }));
    expect((await c.final(unk.callId, 'FROBNICATE')).status).toBe(501);
  });

  it('routes MESSAGE between users (pager mode) after authentication', async () => {
    const bob = await client('bob');
    expect((await register(bob, TEST_PASSWORD)).status).toBe(200);
    const alice = await client('alice');
    const o = await authedRequest(alice, { method: 'MESSAGE', uri: 'sip:bob@localhost', from: 'alice', to: 'bob', callId: uid(), extra: ['Content-Type: text/plain'] });
    const msg = await bob.request('MESSAGE');
    bob.reply(msg, 200, 'OK');
    expect((await alice.final(o.callId, 'MESSAGE')).status).toBe(200);
    bob.close();
  });
});
