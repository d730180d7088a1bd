/**
 * Meeting admission through the REST API (the conference service behind it): who gets in as
 * what, guest links, ad-hoc meetings, the meeting-name rule, and what happens when no SFU node
 * has room. Every answer is parsed with its contract schema (contracts/rest/conferences.ts);
 * the join tokens it hands out admit people to the embedded SFU node.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEETING_NAME } from '../../../../contracts/meetings/meetingName.js';
import { conferenceInfo, conferenceJoin, conferenceList, conferenceSummary, guestLink } from '../../../../contracts/rest/conferences.js';
import { apiErrorBody } from '../../../../contracts/rest/errors.js';
import { api, signIn } from '../../../../server-common/test-support/restClient.js';
import { SfuTestClient } from '../../../../server-common/test-support/sfuTestClient.js';
import { startTestGateway, TEST_PASSWORD, type TestGateway } from '../../../test-support/testGateway.js';

let gw: TestGateway;
let alice: string;
let bob: string;
const clients: SfuTestClient[] = [];

beforeAll(async () => {
  gw = await startTestGateway({ PARLEY_SFU_EMPTY_GRACE_SECONDS: '0' });
  await gw.addUser('alice', TEST_PASSWORD, 'Alice Liddell');
  await gw.addUser('bob', TEST_PASSWORD, 'Bob Builder');
  alice = await signIn(gw.url, 'alice', TEST_PASSWORD);
  bob = await signIn(gw.url, 'bob', TEST_PASSWORD);
});

afterAll(async () => {
  for (const c of clients) c.close();
  await gw?.stop();
});

async function newMeeting(cookie: string, title?: string): Promise<string> {
  const { status, body } = await api(gw.url, 'POST', '/api/conferences', { cookie, body: { title } });
  expect(status).toBe(201);
  const summary = conferenceSummary.parse(body);
  expect(summary.url).toBe(`${gw.gateway.http.publicUrl}/meet/${summary.name}`);
  expect(summary.name).toMatch(MEETING_NAME);
  return summary.name;
}

async function join(conference: string, auth: { cookie?: string; guestToken?: string; displayName?: string }) {
  const client = await SfuTestClient.joinThroughGateway(gw.url, conference, auth);
  clients.push(client);
  return client;
}

function errorCode(body: unknown): string {
  return apiErrorBody.parse(body).error.code;
}

describe('meetings over REST', () => {
  it('starts a meeting, lists it for its owner, and admits its owner and a colleague with their roles', async () => {
    const name = await newMeeting(alice, 'Weekly sync');
    const mine = conferenceList.parse((await api(gw.url, 'GET', '/api/conferences', { cookie: alice })).body);
    expect(mine.conferences.find((c) => c.name === name)?.title).toBe('Weekly sync');
    expect(conferenceList.parse((await api(gw.url, 'GET', '/api/conferences', { cookie: bob })).body).conferences).toEqual([]);

    const preview = conferenceInfo.parse((await api(gw.url, 'GET', `/api/conferences/${name}`, { cookie: bob })).body);
    expect(preview).toMatchObject({ exists: true, title: 'Weekly sync', owner: { displayName: 'Alice Liddell' }, you: { role: 'member' } });

    const grant = conferenceJoin.parse((await api(gw.url, 'POST', `/api/conferences/${name}/join`, { cookie: bob, body: {} })).body);
    expect(grant).toMatchObject({ sfuUrl: '', node: gw.gateway.sfu!.id, conference: { name }, you: { displayName: 'Bob Builder', role: 'member' } });

    // The tokens admit them to the embedded node, where they meet.
    const a = await join(name, { cookie: alice });
    expect(a.joined!.you).toMatchObject({ displayName: 'Alice Liddell', role: 'owner' });
    await a.setUpMedia();
    await a.produce('mic');
    const b = await join(name, { cookie: bob });
    expect(b.joined!.participants.map((p) => p.displayName)).toEqual(['Alice Liddell']);
    await b.setUpMedia();
    const offer = await b.waitFor('newConsumer', (o) => o.source === 'mic');
    expect(offer.participantId).toBe(a.joined!.you.id);
  });

  it('starts an ad-hoc meeting for the first signed-in person to join a new name, who owns it', async () => {
    const before = conferenceInfo.parse((await api(gw.url, 'GET', '/api/conferences/Team-Lunch', { cookie: bob })).body);
    expect(before).toMatchObject({ name: 'team-lunch', exists: false, owner: null, you: { role: 'owner' } });
    const grant = conferenceJoin.parse((await api(gw.url, 'POST', '/api/conferences/team-lunch/join', { cookie: bob, body: {} })).body);
    expect(grant.you.role).toBe('owner');
    expect(grant.conference.title).toBe('Bob Builder’s meeting');
    const after = conferenceInfo.parse((await api(gw.url, 'GET', '/api/conferences/team-lunch', { cookie: alice })).body);
    expect(after).toMatchObject({ exists: true, owner: { username: 'bob' }, you: { role: 'member' } });
  });

  it('refuses names that break the meeting-name rule, wherever they are used', async () => {
    for (const bad of ['-leading', 'trailing-', 'ab', 'x'.repeat(65), 'under_score', 'space%20d']) {
      const join = await api(gw.url, 'POST', `/api/conferences/${bad}/join`, { cookie: alice, body: {} });
      expect(join.status).toBe(400);
      expect(errorCode(join.body)).toBe('invalid_name');
      expect((await api(gw.url, 'GET', `/api/conferences/${bad}`, { cookie: alice })).status).toBe(400);
    }
  });
});

describe('guest links', () => {
  it('admits a guest with the owner’s link and a typed name, and nobody without one', async () => {
    const name = await newMeeting(alice);
    const notOwner = await api(gw.url, 'POST', `/api/conferences/${name}/guest-links`, { cookie: bob, body: {} });
    expect(notOwner.status).toBe(403);
    expect(errorCode(notOwner.body)).toBe('not_owner');
    const created = await api(gw.url, 'POST', `/api/conferences/${name}/guest-links`, { cookie: alice, body: {} });
    expect(created.status).toBe(201);
    const link = guestLink.parse(created.body);
    expect(link.url).toContain(`/meet/${name}?guest=`);
    const guestToken = link.token;

    const info = await fetch(`${gw.url}/api/conferences/${name}?guest=${encodeURIComponent(guestToken)}`);
    expect(info.status).toBe(200);
    expect(conferenceInfo.parse(await info.json())).toMatchObject({ title: 'Alice Liddell’s meeting', you: { kind: 'guest', role: 'guest' } });

    const noName = await api(gw.url, 'POST', `/api/conferences/${name}/join`, { body: { guestToken } });
    expect(noName.status).toBe(400);
    expect(errorCode(noName.body)).toBe('name_required');
    const stranger = await api(gw.url, 'POST', `/api/conferences/${name}/join`, { body: { displayName: 'Eve' } });
    expect(stranger.status).toBe(401);
    const otherMeeting = await newMeeting(alice);
    const wrongRoom = await api(gw.url, 'POST', `/api/conferences/${otherMeeting}/join`, { body: { guestToken, displayName: 'Eve' } });
    expect(wrongRoom.status).toBe(403);
    expect(errorCode(wrongRoom.body)).toBe('invalid_guest_link');
    const tampered = await api(gw.url, 'POST', `/api/conferences/${name}/join`, {
      body: { guestToken: guestToken.slice(0, -3) + 'AAA', displayName: 'Eve' },
    });
    expect(tampered.status).toBe(403);

    const a = await join(name, { cookie: alice });
    const guest = await join(name, { guestToken, displayName: 'Gus the Guest' });
    expect(guest.joined!.you).toMatchObject({ displayName: 'Gus the Guest', role: 'guest' });
    expect((await a.waitFor('participantJoined')).role).toBe('guest');
  });

  it('does not open a meeting that does not exist to a guest link', async () => {
    const name = await newMeeting(alice);
    const { token } = guestLink.parse((await api(gw.url, 'POST', `/api/conferences/${name}/guest-links`, { cookie: alice, body: {} })).body);
    // A link is for one meeting only; another name (even one nobody started) is refused.
    const other = await api(gw.url, 'GET', `/api/conferences/never-started?guest=${encodeURIComponent(token)}`);
    expect(other.status).toBe(403);
  });
});

describe('when no conference server has room', () => {
  it('answers 503 with advice and a Retry-After, and still admits people to the meeting already pinned', async () => {
    const small = await startTestGateway({ PARLEY_SFU_MAX_CONFERENCES: '1' });
    try {
      await small.addUser('dave', TEST_PASSWORD);
      const dave = await signIn(small.url, 'dave', TEST_PASSWORD);
      expect((await api(small.url, 'POST', '/api/conferences/first-one/join', { cookie: dave, body: {} })).status).toBe(200);
      const res = await fetch(`${small.url}/api/conferences/second-one/join`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Cookie: dave },
        body: '{}',
      });
      expect(res.status).toBe(503);
      expect(res.headers.get('retry-after')).toBe('5');
      const body = apiErrorBody.parse(await res.json());
      expect(body.error.code).toBe('no_conference_server');
      expect(body.error.message).toMatch(/at their limit.*Try again/);
      expect((await api(small.url, 'POST', '/api/conferences/first-one/join', { cookie: dave, body: {} })).status).toBe(200);
    } finally {
      await small.stop();
    }
  });
});
