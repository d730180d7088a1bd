/**
 * TURN for browsers: Debian's coturn with the TURN REST API (`use-auth-secret`), the gateway
 * handing each signed-in browser short-lived credentials from the same secret. With
 * PARLEY_ICE_TRANSPORT_POLICY=relay two browsers can only reach each other through coturn —
 * as when both sit behind NATs that let nothing else through — and the call still carries
 * audio and video.
 */
import { expect, test } from '@playwright/test';
import { GatewayProcess } from '../gateway/test-support/gatewayProcess.js';
import { hasCoturn, TurnServer } from '../gateway/test-support/softphones.js';
import { expectMediaFlowing, openUser, type UserPage } from './support/browser.js';
import { startCall } from './support/chat.js';

const PASSWORD = 'relay-all-the-things';
test.skip(!hasCoturn(), 'needs coturn');

let turn: TurnServer;
let gateway: GatewayProcess;
const opened: UserPage[] = [];

test.beforeAll(async () => {
  turn = new TurnServer();
  await turn.start();
  gateway = new GatewayProcess({
    env: { PARLEY_TURN_SECRET: turn.secret, PARLEY_TURN_URLS: turn.url, PARLEY_ICE_TRANSPORT_POLICY: 'relay' },
  });
  gateway.addUser('alice', PASSWORD, 'Alice Liddell');
  gateway.addUser('bob', PASSWORD, 'Bob Builder');
  await gateway.start();
});

test.afterAll(async () => {
  for (const u of opened.splice(0)) await u.context.close();
  await gateway?.stop();
  await turn?.stop();
});

/** The candidate types of the pair each live peer connection of the page selected. */
async function selectedCandidateTypes(page: UserPage['page']): Promise<Array<{ local: string; remote: string }>> {
  return page.evaluate(async () => {
    const pcs = ((window as unknown as { __pcs: RTCPeerConnection[] }).__pcs ?? []).filter((pc) => pc.connectionState === 'connected');
    const out: Array<{ local: string; remote: string }> = [];
    for (const pc of pcs) {
      const stats = await pc.getStats();
      const byId = new Map<string, Record<string, unknown>>();
      stats.forEach((s: Record<string, unknown>) => byId.set(String(s.id), s));
      stats.forEach((s: Record<string, unknown>) => {
        if (s.type !== 'transport' || !s.selectedCandidatePairId) return;
        const pair = byId.get(String(s.selectedCandidatePairId));
        out.push({
          local: String(byId.get(String(pair?.localCandidateId))?.candidateType),
          remote: String(byId.get(String(pair?.remoteCandidateId))?.candidateType),
        });
      });
    }
    return out;
  });
}

test('with the relay policy, a call between two browsers goes through coturn with TURN REST credentials, and carries media both ways', async ({ browser }) => {
  const alice = await openUser(browser, gateway.url, 'alice', { signIn: { password: PASSWORD } });
  const bob = await openUser(browser, gateway.url, 'bob', { signIn: { password: PASSWORD } });
  opened.push(alice, bob);

  // What the gateway hands out: the TURN URL, a "<expiry>:<user>" name and the relay policy.
  const ice = await alice.page.evaluate(() => fetch('/api/ice-servers').then((r) => r.json()));
  expect(ice.iceTransportPolicy).toBe('relay');
  expect(ice.iceServers).toContainEqual(expect.objectContaining({ urls: [turn.url], username: expect.stringMatching(/^\d+:alice$/) }));

  await startCall(alice.page, 'bob');
  await bob.page.getByTestId('incoming-call').getByRole('button', { name: 'Accept' }).click();
  await expect(alice.page.getByTestId('call-screen')).toHaveAttribute('data-phase', 'active');
  await expectMediaFlowing(alice.page, 'alice through the relay');
  await expectMediaFlowing(bob.page, 'bob through the relay');

  for (const page of [alice.page, bob.page]) {
    const pairs = await selectedCandidateTypes(page);
    expect(pairs.length).toBeGreaterThan(0);
    for (const pair of pairs) expect(pair).toEqual({ local: 'relay', remote: 'relay' });
  }
  // coturn saw the allocations, authenticated with the REST credentials.
  expect(turn.output).toMatch(/alice/);
  expect(turn.output).toMatch(/bob/);
  await alice.page.getByRole('button', { name: /Hang up|End call/ }).first().click();
  await expect(bob.page.getByTestId('call-screen')).toHaveCount(0, { timeout: 10_000 });
});
