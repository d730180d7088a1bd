/**
 * Phones that speak plain RTP — what almost every desk phone and softphone does — and a
 * browser, through the gateway with Debian's rtpengine as its media bridge: baresip with G.711
 * only and linphonec over UDP, each tested both ways with audio verified on both ends (the
 * browser's getStats(), the phone's own reports, rtpengine's per-call packet counters), and
 * every rtpengine call gone once the call ends. Without a bridge, the same calls are refused
 * at once with 488 and the browser says why.
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium, expect, test, type Browser, type Page } from '@playwright/test';
import { GatewayProcess } from '../gateway/test-support/gatewayProcess.js';
import { hasRtpengine, RtpengineProcess } from '../gateway/test-support/rtpengine.js';
import { hasSipp, runSipp, sippRegister } from '../gateway/test-support/sipp.js';
import { freeTcpUdpPort } from '../server-common/test-support/ports.js';
import { Baresip, ensurePhoneInterface, hasBaresip, hasLinphonec, Linphonec } from '../gateway/test-support/softphones.js';
import { CAPTURE_PEER_CONNECTIONS, signIn } from './support/browser.js';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './support/chromium.js';
import { audioBytes, browserAnswers, browserCalls, browserHangsUp, expectAudioBothWaysInBrowser } from './support/phones.js';

const PASSWORD = 'phones-are-people-too';
const phoneInterface = hasBaresip() && hasLinphonec() && hasRtpengine() && hasSipp() ? ensurePhoneInterface() : undefined;

test.skip(!phoneInterface, 'needs baresip-core, linphone-cli, sip-tester, rtpengine-daemon and a non-loopback interface');
test.describe.configure({ mode: 'serial' });

let rtpengine: RtpengineProcess;
let gateway: GatewayProcess;
let bob: Baresip;
let carol: Linphonec;
let browser: Browser;
let alice: Page;

async function gatewayWith(env: Record<string, string>): Promise<GatewayProcess> {
  const gw = new GatewayProcess({ env });
  gw.addUser('alice', PASSWORD, 'Alice Liddell');
  gw.addUser('bob', PASSWORD, 'Bob on a desk phone');
  gw.addUser('carol', PASSWORD, 'Carol on Linphone');
  gw.addUser('dana', PASSWORD, 'Dana on TLS');
  gw.addUser('sam', PASSWORD, 'Sam the sipp');
  await gw.start();
  return gw;
}

async function signedInBrowser(gw: GatewayProcess): Promise<Page> {
  const context = await browser.newContext({ baseURL: gw.url, permissions: ['camera', 'microphone'] });
  await context.addInitScript(CAPTURE_PEER_CONNECTIONS);
  const page = await context.newPage();
  await page.goto('/');
  await signIn(page, 'alice', PASSWORD);
  await expect(page.getByTestId('registration')).toHaveText('Ready for calls', { timeout: 15_000 });
  return page;
}

test.beforeAll(async () => {
  test.setTimeout(120_000);
  rtpengine = new RtpengineProcess();
  await rtpengine.start();
  gateway = await gatewayWith({ PARLEY_MEDIA_BRIDGE: rtpengine.url });
  bob = new Baresip({ user: 'bob', password: PASSWORD, sipPort: gateway.sipPort, mediaInterface: phoneInterface, g711Only: true });
  carol = new Linphonec({ user: 'carol', password: PASSWORD, sipPort: gateway.sipPort });
  await Promise.all([bob.start(), carol.start()]);
  expect((await bob.registration())[0]).toMatch(/200 OK/);
  expect((await carol.registration())[1]).toBe('LinphoneRegistrationOk');
  browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
  alice = await signedInBrowser(gateway);
});

test.afterEach(async ({}, testInfo) => {
  if (testInfo.status === testInfo.expectedStatus) return;
  const logs: Record<string, string | undefined> = { baresip: bob?.output, linphonec: carol?.logText(), rtpengine: rtpengine?.log, gateway: gateway?.output };
  for (const [name, text] of Object.entries(logs)) {
    const file = testInfo.outputPath(`${name}.log`);
    fs.writeFileSync(file, (text ?? '').slice(-200_000));
    await testInfo.attach(`${name}.log`, { path: file, contentType: 'text/plain' });
  }
});

test.afterAll(async () => {
  await browser?.close();
  await bob?.stop();
  await carol?.stop();
  await gateway?.stop();
  await rtpengine?.stop();
});

/** The call's media went through rtpengine both ways, and the call is gone from it after the hang-up. */
async function expectBridgedThenGone(hangUp: () => Promise<void>): Promise<void> {
  // One call in rtpengine, and both sides' media reached it (its counters), not only the browser's.
  await expect
    .poll(async () => (await rtpengine.packetsReceived()).map((call) => call.bySide.map((packets) => packets > 20)), {
      message: 'rtpengine should receive media from both sides of the one call',
      timeout: 10_000,
    })
    .toEqual([[true, true]]);
  await hangUp();
  await expect.poll(() => rtpengine.sessions(), { message: 'rtpengine should hold no call after the hang-up', timeout: 10_000 }).toBe(0);
}

test('the browser calls baresip (plain RTP, G.711 only), and baresip calls the browser, with audio both ways through rtpengine', async () => {
  let from = bob.output.length;
  await browserCalls(alice, 'bob'); // baresip answers by itself
  await bob.waitFor(/incoming rtp for 'audio' established/, 15_000, from);
  expect(bob.output.slice(from)).not.toMatch(/DTLS|\bice\b/i); // plain RTP: no ICE, no encryption
  await expectAudioBothWaysInBrowser(alice, 'browser → plain-RTP baresip');
  await expectBridgedThenGone(() => browserHangsUp(alice));
  await bob.waitFor(/session closed/, 10_000, from);

  from = bob.output.length;
  await bob.command('dial', 'sip:alice@localhost');
  await browserAnswers(alice);
  await bob.waitFor(/incoming rtp for 'audio' established/, 15_000, from);
  await expectAudioBothWaysInBrowser(alice, 'plain-RTP baresip → browser');
  await expectBridgedThenGone(async () => {
    await bob.command('hangup');
    await expect(alice.getByTestId('call-screen')).toHaveCount(0, { timeout: 10_000 });
  });
});

/**
 * A browser that speaks opus alone (RTCRtpTransceiver.setCodecPreferences before each offer
 * and answer, as a site restricting codecs would): it and a G.711-only phone share no codec.
 */
const OPUS_ONLY = `
  (() => {
    const opusOnly = (pc) => {
      const opus = RTCRtpReceiver.getCapabilities('audio').codecs.filter((c) => /opus/i.test(c.mimeType));
      for (const t of pc.getTransceivers()) if (t.receiver.track.kind === 'audio') t.setCodecPreferences(opus);
    };
    for (const name of ['createOffer', 'createAnswer']) {
      const original = RTCPeerConnection.prototype[name];
      RTCPeerConnection.prototype[name] = function (...args) {
        opusOnly(this);
        return original.apply(this, args);
      };
    }
  })();
`;

/** The audio codecs the page's live calls receive and send, as getStats() names them (audio/opus …). */
async function audioCodecs(page: Page): Promise<{ inbound: string[]; outbound: string[] }> {
  return page.evaluate(async () => {
    const out = { inbound: new Set<string>(), outbound: new Set<string>() };
    for (const pc of ((window as unknown as { __pcs: RTCPeerConnection[] }).__pcs ?? []).filter((p) => p.connectionState !== 'closed')) {
      const stats = await pc.getStats();
      stats.forEach((s: { type: string; kind?: string; codecId?: string }) => {
        if (s.kind !== 'audio' || !s.codecId || (s.type !== 'inbound-rtp' && s.type !== 'outbound-rtp')) return;
        out[s.type === 'inbound-rtp' ? 'inbound' : 'outbound'].add(String((stats.get(s.codecId) as { mimeType?: string } | undefined)?.mimeType));
      });
    }
    return { inbound: [...out.inbound], outbound: [...out.outbound] };
  });
}

test('a browser receiving opus alone and baresip with G.711 alone: rtpengine transcodes, audio both ways, when either calls', async () => {
  const context = await browser.newContext({ baseURL: gateway.url, permissions: ['camera', 'microphone'] });
  await context.addInitScript(CAPTURE_PEER_CONNECTIONS);
  await context.addInitScript(OPUS_ONLY);
  const page = await context.newPage();
  await page.goto('/');
  await signIn(page, 'alice', PASSWORD);
  await expect(page.getByTestId('registration')).toHaveText('Ready for calls', { timeout: 15_000 });
  // alice's first page would ring too: it signs out for this test.
  await alice.context().close();
  try {
    let from = bob.output.length;
    await browserCalls(page, 'bob');
    await bob.waitFor(/incoming rtp for 'audio' established/, 15_000, from);
    expect(bob.output.slice(from)).toMatch(/audio: Set audio decoder: PCM[UA] 8000Hz/);
    await expectAudioBothWaysInBrowser(page, 'opus browser → G.711 baresip');
    expect(await audioCodecs(page)).toEqual({ inbound: ['audio/opus'], outbound: ['audio/opus'] });
    // rtpengine counts transcoded streams in its once-a-second timer: wait for the next count.
    await expect.poll(() => rtpengine.transcodedMedia(), { timeout: 10_000 }).toBeGreaterThan(0);
    await expectBridgedThenGone(() => browserHangsUp(page));

    from = bob.output.length;
    await bob.command('dial', 'sip:alice@localhost');
    await browserAnswers(page);
    await bob.waitFor(/incoming rtp for 'audio' established/, 15_000, from);
    await expectAudioBothWaysInBrowser(page, 'G.711 baresip → opus browser');
    // Chromium as the answerer receives only opus (its answer), but sends the offer's first codec
    // it has (PCMU, which rtpengine offered as the phone's): only the phone's audio is transcoded.
    expect((await audioCodecs(page)).inbound).toEqual(['audio/opus']);
    // rtpengine counts transcoded streams in its once-a-second timer: wait for the next count.
    await expect.poll(() => rtpengine.transcodedMedia(), { timeout: 10_000 }).toBeGreaterThan(0);
    await expectBridgedThenGone(async () => {
      await bob.command('hangup');
      await expect(page.getByTestId('call-screen')).toHaveCount(0, { timeout: 10_000 });
    });
  } finally {
    await context.close();
    alice = await signedInBrowser(gateway);
  }
});

test('the browser calls linphonec over UDP with plain RTP, and linphonec calls the browser, with audio both ways through rtpengine', async () => {
  let from = carol.logText().length;
  await browserCalls(alice, 'carol'); // linphonec -a answers by itself
  await expectAudioBothWaysInBrowser(alice, 'browser → linphonec');
  await expectBridgedThenGone(() => browserHangsUp(alice));
  let [, packets] = await carol.waitFor(/ortp-message-received\s+(\d+) packets/, 10_000, from);
  expect(Number(packets)).toBeGreaterThan(10);

  from = carol.logText().length;
  carol.command('call sip:alice@localhost');
  await browserAnswers(alice);
  await expectAudioBothWaysInBrowser(alice, 'linphonec → browser');
  await expectBridgedThenGone(async () => {
    carol.command('terminate');
    await expect(alice.getByTestId('call-screen')).toHaveCount(0, { timeout: 10_000 });
  });
  [, packets] = await carol.waitFor(/ortp-message-received\s+(\d+) packets/, 10_000, from);
  expect(Number(packets)).toBeGreaterThan(10);
});

test('baresip over SIP/TLS with SDES-SRTP calls the browser and is called by it, with audio both ways through rtpengine', async () => {
  const dana = new Baresip({
    user: 'dana',
    password: PASSWORD,
    sipPort: gateway.sipPort,
    mediaInterface: phoneInterface,
    g711Only: true,
    tls: { port: gateway.sipTlsPort, caFile: path.join(gateway.dataDir, 'xmpp-tls.crt') },
  });
  try {
    await dana.start();
    expect((await dana.registration())[0]).toMatch(/\{0\/TLS\/v4\} 200 OK/);
    let from = dana.output.length;
    await browserCalls(alice, 'dana');
    await dana.waitFor(/incoming rtp for 'audio' established/, 15_000, from);
    expect(dana.output.slice(from)).toMatch(/srtp|SRTP/);
    await expectAudioBothWaysInBrowser(alice, 'browser → baresip on TLS');
    await expectBridgedThenGone(() => browserHangsUp(alice));

    from = dana.output.length;
    await dana.command('dial', 'sip:alice@localhost');
    await browserAnswers(alice);
    await dana.waitFor(/incoming rtp for 'audio' established/, 15_000, from);
    await expectAudioBothWaysInBrowser(alice, 'baresip on TLS → browser');
    await expectBridgedThenGone(async () => {
      await dana.command('hangup');
      await expect(alice.getByTestId('call-screen')).toHaveCount(0, { timeout: 10_000 });
    });
  } finally {
    await dana.stop();
  }
});

test('sipp with plain RTP: its recorded A-law stream (a pcap) reaches the browser, and the browser calling sipp hears itself echoed (rtp_echo), through rtpengine', async () => {
  const csv = `SEQUENTIAL\nsam;[authentication username=sam password=${PASSWORD}];localhost;alice\n`;
  const caller = runSipp({
    scenario: 'uac-pcap-call.xml',
    remote: `127.0.0.1:${gateway.sipPort}`,
    localPort: await freeTcpUdpPort(),
    calls: 1,
    rate: 1,
    csv,
    extra: ['-d', '7000', '-mi', '127.0.0.1', '-mp', String(await freeTcpUdpPort())],
    timeoutSeconds: 40,
  });
  await browserAnswers(alice);
  // 4.7 s of G.711 at 8,000 bytes/s: the browser receives it (through rtpengine, in A-law or transcoded).
  await expect.poll(async () => (await audioBytes(alice)).received, { message: 'the browser should receive the stream sipp plays', timeout: 15_000 }).toBeGreaterThan(15_000);
  await expectBridgedThenGone(async () => {
    const result = await caller.done; // sipp hangs up once its pause is over
    expect(result.successful, result.output).toBe(1);
    await expect(alice.getByTestId('call-screen')).toHaveCount(0, { timeout: 10_000 });
  });

  const uasPort = await freeTcpUdpPort();
  expect((await sippRegister(gateway.sipPort, 'sam', PASSWORD, uasPort, await freeTcpUdpPort())).successful).toBe(1);
  const callee = runSipp({ scenario: 'uas-answer.xml', localPort: uasPort, calls: 1, extra: ['-rtp_echo', '-mi', '127.0.0.1', '-mp', String(await freeTcpUdpPort())], timeoutSeconds: 40 });
  await browserCalls(alice, 'sam');
  await expectAudioBothWaysInBrowser(alice, 'browser → sipp echoing its RTP'); // what it receives is its own audio, echoed
  await expectBridgedThenGone(() => browserHangsUp(alice));
  const result = await callee.done;
  expect(result.successful, result.output).toBe(1);
});

test('without a media bridge, a plain-RTP phone calling the browser is refused at once with the reason, and the browser calling it says why', async () => {
  const bare = await gatewayWith({});
  const phone = new Baresip({ user: 'bob', password: PASSWORD, sipPort: bare.sipPort, mediaInterface: phoneInterface, g711Only: true });
  try {
    await phone.start();
    expect((await phone.registration())[0]).toMatch(/200 OK/);
    const page = await signedInBrowser(bare);
    const from = phone.output.length;
    await phone.command('dial', 'sip:alice@localhost');
    await phone.waitFor(/488 Not Acceptable Here/, 10_000, from);
    await expect(page.getByTestId('incoming-call')).toHaveCount(0);

    // The server now knows this phone sends plain RTP: the browser's call is refused before it rings.
    await page.getByRole('tab', { name: 'Calls' }).click();
    await page.getByLabel('Name to call').fill('bob');
    await page.getByRole('button', { name: 'Audio call', exact: true }).click();
    await expect(page.getByRole('alert').or(page.getByRole('status')).filter({ hasText: /phone cannot talk to a browser on this server/ }).first()).toBeVisible({ timeout: 10_000 });
    await page.context().close();
  } finally {
    await phone.stop();
    await bare.stop();
  }
});
