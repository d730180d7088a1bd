/**
 * Join time as a user feels it: in headless Chromium with a fake camera, from the join API
 * call (the "Join now" click) to the first decoded frame of the other participant's video.
 * A gateway process with its embedded SFU; alice stays in the meeting, bob joins and leaves.
 */
import { chromium, type Page } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../e2e/support/chromium.js';
import { GatewayProcess } from '../../gateway/test-support/gatewayProcess.js';

const PASSWORD = 'bench-join-password';
const MEETING = 'bench-join';

async function enterMeeting(page: Page, user: string, signIn: boolean): Promise<void> {
  await page.goto(`/meet/${MEETING}`);
  if (signIn) {
    await page.getByLabel('Username').fill(user);
    await page.getByLabel('Password').fill(PASSWORD);
    await page.getByRole('button', { name: 'Sign in' }).click();
  }
  await page.getByRole('button', { name: 'Join now' }).waitFor({ timeout: 30_000 });
}

/**
 * Installs a watcher in the page that resolves `__joinMs` with (first remote frame decoded −
 * start of the join API call), in ms, or NaN after 30 s (a failed join). A string, not a function: tsx would add helpers to a
 * function's source that do not exist in the page. `void`: evaluate must not wait for the promise.
 */
const WATCH_FIRST_FRAME = `void (
  window.__joinMs = new Promise((resolve) => {
    setTimeout(() => resolve(NaN), 30000);
    const tick = async () => {
      const client = window.parleyMeeting;
      const stats = client ? await client.receiveStats().catch(() => []) : [];
      if (stats.some((s) => s.kind === 'video' && s.framesDecoded > 0)) {
        const now = performance.now();
        const call = performance.getEntriesByType('resource').find((e) => e.name.includes('/api/conferences/') && e.name.endsWith('/join'));
        resolve(call ? now - call.startTime : NaN);
        return;
      }
      setTimeout(tick, 5);
    };
    tick();
  })
)`;

export async function measureJoinTimes(runs: number, warmups = 2): Promise<number[]> {
  const gateway = new GatewayProcess();
  gateway.addUser('alice', PASSWORD);
  gateway.addUser('bob', PASSWORD);
  await gateway.start();
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
  try {
    const context = (user: string) => browser.newContext({ baseURL: gateway.url, permissions: ['camera', 'microphone'], viewport: { width: 1100, height: 700 } }).then((c) => ({ c, user }));
    const alice = await context('alice');
    const host = await alice.c.newPage();
    await enterMeeting(host, 'alice', true);
    await host.getByRole('button', { name: 'Join now' }).click();
    await host.getByRole('button', { name: 'Leave the meeting' }).waitFor({ timeout: 30_000 });

    const bob = await context('bob');
    const times: number[] = [];
    for (let i = 0; i < warmups + runs; i++) {
      const page = await bob.c.newPage();
      if (process.env.BENCH_DEBUG) page.on('console', (m) => console.error('    [bob]', m.text()));
      await enterMeeting(page, 'bob', i === 0);
      await page.evaluate(WATCH_FIRST_FRAME);
      await page.getByRole('button', { name: 'Join now' }).click();
      const ms = (await page.evaluate('window.__joinMs')) as number;
      if (!Number.isFinite(ms)) {
        const why = await page.evaluate('(async () => JSON.stringify({ stats: window.parleyMeeting ? await window.parleyMeeting.receiveStats() : "no client", phase: window.parleyMeeting?.state?.phase, message: window.parleyMeeting?.state?.message, calls: performance.getEntriesByType("resource").map((e) => e.name).filter((n) => n.includes("/api/")) }))()');
        console.error(`    join ${i + 1} did not show a remote frame within 30 s: ${String(why)}`);
        if (process.env.BENCH_DEBUG) console.error(gateway.output);
      }
      if (i >= warmups) times.push(ms);
      await page.getByRole('button', { name: 'Leave the meeting' }).click();
      await page.close();
    }
    return times;
  } finally {
    await browser.close();
    await gateway.stop();
  }
}
