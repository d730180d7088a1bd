/**
 * A 10-person meeting on this machine: ten headless Chromium participants (fake camera and
 * microphone, simulcast) join one meeting through the real UI of a gateway process with its
 * embedded SFU. Prints how many joined, how many of the other nine each one actually receives
 * (audio bytes and decoded video frames rising), and what the SFU workers and the gateway cost.
 *
 * Ten browsers encoding 720p simulcast and decoding nine streams each do not fit on the same two
 * cores as the server (people bring their own machines), so here every camera captures 320x180
 * at 15 fps: the browsers' share shrinks, the SFU's job (10 senders × 9 receivers) stays.
 */
import { execFileSync } from 'node:child_process';
import { chromium, type Page } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../e2e/support/chromium.js';
import { receiveStats, type StreamStats } from '../../e2e/support/meeting.js';
import { GatewayProcess } from '../../gateway/test-support/gatewayProcess.js';
import { cpuSeconds } from '../support/benchEnv.js';

const PASSWORD = 'ten-people-password';

const SMALL_CAMERA = `(() => {
  const original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = (c) => original(c && c.video ? { ...c, video: { ...(typeof c.video === 'object' ? c.video : {}), width: 320, height: 180, frameRate: 15 } } : c);
})();`;

export interface MeetingFigures {
  people: number;
  joined: number;
  /** Over the participants who joined: the fewest others whose audio / video they receive. */
  minAudioFrom: number;
  minVideoFrom: number;
  /** Per participant who joined: how many others they receive audio / video from. */
  audioFrom: number[];
  videoFrom: number[];
  /** CPU over the measuring window, in cores (1 = one core busy). */
  sfuWorkersCores: number;
  gatewayCores: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function measureMeeting(people = 10, windowSeconds = 10): Promise<MeetingFigures> {
  const gateway = new GatewayProcess();
  const names = Array.from({ length: people }, (_, i) => `person${i + 1}`);
  for (const name of names) gateway.addUser(name, PASSWORD);
  await gateway.start();
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
  try {
    const pages: Page[] = [];
    let joined = 0;
    for (const name of names) {
      // Small windows, as on a laptop with ten tiles: small tiles ask for the low simulcast layer.
      const context = await browser.newContext({ baseURL: gateway.url, viewport: { width: 800, height: 600 }, permissions: ['camera', 'microphone'] });
      await context.addInitScript(SMALL_CAMERA);
      const page = await context.newPage();
      await page.goto('/meet/ten-people');
      await page.getByLabel('Username').fill(name);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('button', { name: 'Join now' }).click({ timeout: 30_000 });
      try {
        await page.getByRole('button', { name: 'Leave the meeting' }).waitFor({ timeout: 60_000 });
        joined++;
        pages.push(page);
      } catch {
        console.error(`    ${name} did not get into the meeting within 60 s`);
      }
    }
    await sleep(8000); // simulcast layers settle, keyframes arrive
    const workers = execFileSync('pgrep', ['-P', String(gateway.pid)], { encoding: 'utf8' }).trim().split('\n').filter(Boolean).map(Number);
    const cpu = () => ({ sfu: workers.reduce((s, pid) => s + cpuSeconds(pid), 0), gw: cpuSeconds(gateway.pid), at: performance.now() });
    const before = await Promise.all(pages.map((p) => receiveStats(p)));
    const c0 = cpu();
    await sleep(windowSeconds * 1000);
    const c1 = cpu();
    const after = await Promise.all(pages.map((p) => receiveStats(p)));
    const rising = (a: Record<string, StreamStats>, b: Record<string, StreamStats>, source: 'mic' | 'camera') =>
      Object.entries(b).filter(([key, s]) => key.endsWith(`/${source}`) && (source === 'mic' ? s.bytesReceived > (a[key]?.bytesReceived ?? 0) : s.framesDecoded > (a[key]?.framesDecoded ?? 0))).length;
    const audio = pages.map((_, i) => rising(before[i], after[i], 'mic'));
    const video = pages.map((_, i) => rising(before[i], after[i], 'camera'));
    const seconds = (c1.at - c0.at) / 1000;
    return {
      people,
      joined,
      minAudioFrom: Math.min(...audio),
      minVideoFrom: Math.min(...video),
      audioFrom: audio,
      videoFrom: video,
      sfuWorkersCores: (c1.sfu - c0.sfu) / seconds,
      gatewayCores: (c1.gw - c0.gw) / seconds,
    };
  } finally {
    await browser.close();
    await gateway.stop();
  }
}
