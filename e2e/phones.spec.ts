/**
 * Standard softphones from Debian and a browser user, through the gateway with its default
 * settings: baresip and linphonec register as an operator would configure them (an account
 * with a password, the gateway as outbound proxy, WebRTC-capable media: ICE with a STUN
 * server, DTLS-SRTP, rtcp-mux), and each calls the browser and is called by it, with audio
 * flowing both ways — read from the browser's getStats() and from each phone's own reports.
 *
 * The phones need a network interface other than loopback, so the test gives its
 * loopback-only namespace one (a veth pair that leads nowhere); the browser here gathers its
 * ICE candidates on that interface, not on loopback, like the phones.
 */
import { chromium, expect, test, type Browser, type Page } from '@playwright/test';
import { GatewayProcess } from '../gateway/test-support/gatewayProcess.js';
import { Baresip, ensurePhoneInterface, hasBaresip, hasCoturn, hasLinphonec, Linphonec, StunServer } from '../gateway/test-support/softphones.js';
import { CAPTURE_PEER_CONNECTIONS, signIn } from './support/browser.js';
import { browserAnswers, browserCalls, browserHangsUp, expectAudioBothWaysInBrowser } from './support/phones.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './support/chromium.js';

const PASSWORD = 'phones-are-people-too';
const phoneInterface = hasBaresip() && hasLinphonec() && hasCoturn() ? ensurePhoneInterface() : undefined;

test.skip(!phoneInterface, 'needs baresip-core, linphone-cli, coturn and a non-loopback interface');
test.describe.configure({ mode: 'serial' });

let gateway: GatewayProcess;
let stun: StunServer;
let bob: Baresip;
let carol: Linphonec;
let browser: Browser;
let alice: Page;

test.beforeAll(async () => {
  test.setTimeout(120_000);
  gateway = new GatewayProcess();
  gateway.addUser('alice', PASSWORD, 'Alice Liddell');
  gateway.addUser('bob', PASSWORD, 'Bob on baresip');
  gateway.addUser('carol', PASSWORD, 'Carol on Linphone');
  await gateway.start();
  stun = new StunServer();
  await stun.start();
  bob = new Baresip({ user: 'bob', password: PASSWORD, sipPort: gateway.sipPort, stunServer: stun.url, mediaInterface: phoneInterface });
  carol = new Linphonec({ user: 'carol', password: PASSWORD, sipPort: gateway.sipPort, stunServer: stun.url });
  await Promise.all([bob.start(), carol.start()]);
  expect((await bob.registration())[0]).toMatch(/200 OK/);
  expect((await carol.registration())[1]).toBe('LinphoneRegistrationOk');

  browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS.filter((a) => a !== '--allow-loopback-in-peer-connection'),
  });
  const context = await browser.newContext({ baseURL: gateway.url, permissions: ['camera', 'microphone'] });
  await context.addInitScript(CAPTURE_PEER_CONNECTIONS);
  alice = await context.newPage();
  await alice.goto('/');
  await signIn(alice, 'alice', PASSWORD);
  await expect(alice.getByTestId('registration')).toHaveText('Ready for calls', { timeout: 15_000 });
});

test.afterAll(async () => {
  await browser?.close();
  await bob?.stop();
  await carol?.stop();
  await stun?.stop();
  await gateway?.stop();
});

test('the browser calls baresip, and baresip calls the browser, with audio both ways', async () => {
  let from = bob.output.length;
  await browserCalls(alice, 'bob'); // baresip answers by itself
  await bob.waitFor(/DTLS-SRTP complete/, 15_000, from);
  await bob.waitFor(/incoming rtp for 'audio' established/, 15_000, from);
  await expectAudioBothWaysInBrowser(alice, 'browser → baresip');
  await browserHangsUp(alice);
  // baresip reports the BYE as "session closed"; its "Call … terminated" summary is left out
  // when the call lasted under a second (call.c print_summary), so that line cannot be relied on.
  await bob.waitFor(/session closed/, 10_000, from);

  from = bob.output.length;
  await bob.command('dial', 'sip:alice@localhost');
  await browserAnswers(alice);
  await bob.waitFor(/incoming rtp for 'audio' established/, 15_000, from);
  await expectAudioBothWaysInBrowser(alice, 'baresip → browser');
  await bob.command('hangup');
  await expect(alice.getByTestId('call-screen')).toHaveCount(0, { timeout: 10_000 });
});

test('the browser calls linphonec, and linphonec calls the browser, with audio both ways', async () => {
  let from = carol.logText().length;
  await browserCalls(alice, 'carol'); // linphonec -a answers by itself
  await carol.waitFor(/DTLS Handshake on RTP channel successful/, 15_000, from);
  await expectAudioBothWaysInBrowser(alice, 'browser → linphonec');
  await browserHangsUp(alice);
  let [, packets] = await carol.waitFor(/ortp-message-received\s+(\d+) packets/, 10_000, from);
  expect(Number(packets)).toBeGreaterThan(10);

  from = carol.logText().length;
  carol.command('call sip:alice@localhost');
  await browserAnswers(alice).catch((err: Error) => {
    throw new Error(`${err.message}\nlinphonec: ${carol.logText().slice(from).split('\n').slice(-6000)}\ngateway: ${gateway.output.slice(-3000)}`);
  });
  // The browser answers as the DTLS server, so linphone's mbedTLS is the client (client/src/sip/dtlsRole.ts).
  await carol.waitFor(/DTLS Handshake on RTP channel successful/, 15_000, from);
  await expectAudioBothWaysInBrowser(alice, 'linphonec → browser');
  carol.command('terminate');
  await expect(alice.getByTestId('call-screen')).toHaveCount(0, { timeout: 10_000 });
  [, packets] = await carol.waitFor(/ortp-message-received\s+(\d+) packets/, 10_000, from);
  expect(Number(packets)).toBeGreaterThan(10);
});
