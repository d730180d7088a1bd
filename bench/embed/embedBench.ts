/**
 * Widget benchmark (`npm run bench`): the size of widget.js, and in headless Chromium on a
 * host page of another origin, the time from Parley.embed() to `ready` and to `joined`
 * (a guest with the site's embed key joining a meeting straight away).
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { chromium } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from '../../e2e/support/chromium.js';
import { HostSite, msToEvent } from '../../e2e/support/hostSite.js';
import { GatewayProcess } from '../../gateway/test-support/gatewayProcess.js';
import { freeTcpPort } from '../../server-common/test-support/ports.js';
import { percentile, ROOT } from '../support/benchEnv.js';

const RUNS = Number(process.env.BENCH_EMBED_RUNS ?? 10);
const report = (k: string, v: string) => console.log(`  ${k.padEnd(66)} ${v}`);

async function main(): Promise<void> {
  console.log('\nWidget benchmark (widget.js on a host page of another origin, headless Chromium)');
  const widget = fs.readFileSync(path.join(ROOT, 'dist/widget.js'));
  report('widget.js size (target ≤ 10 KB gzipped)', `${(widget.length / 1024).toFixed(1)} KB, ${(zlib.gzipSync(widget, { level: 9 }).length / 1024).toFixed(1)} KB gzipped`);

  const hostPort = await freeTcpPort();
  const gateway = new GatewayProcess({ env: { PARLEY_EMBED_ORIGINS: `http://localhost:${hostPort}` } });
  await gateway.start();
  const host = new HostSite(hostPort, gateway.url);
  await host.listen();
  const browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true });
  try {
    const made = spawnSync(process.execPath, [path.join(ROOT, 'bin/parley.js'), 'embed-key', '--origin', host.origin, '--room', 'bench-*'], {
      env: { ...process.env, PARLEY_DATA: gateway.dataDir, PARLEY_EMBED_ORIGINS: host.origin },
      encoding: 'utf8',
    });
    if (made.status !== 0) throw new Error(`embed-key failed: ${made.stderr}`);
    const embedKey = made.stdout.trim();
    const ready: number[] = [];
    const joined: number[] = [];
    for (let i = 0; i < RUNS + 1; i++) {
      const context = await browser.newContext({ permissions: ['camera', 'microphone'] });
      const page = await context.newPage();
      const options = { type: 'meeting', room: 'bench-embed', displayName: `Guest ${i}`, embedKey, prejoin: false };
      await page.goto(`${host.origin}/#${encodeURIComponent(JSON.stringify(options))}`);
      await page.waitForFunction('window.events.some((e) => e.name === "joined" || e.name === "error")', undefined, { timeout: 30_000 });
      const [r, j] = [await msToEvent(page, 'ready'), await msToEvent(page, 'joined')];
      if (j === undefined) throw new Error(`run ${i}: no joined event: ${JSON.stringify(await page.evaluate('window.events'))}`);
      if (i > 0) {
        // The first run warms the server and the browser's cache; the rest are what people see.
        ready.push(r!);
        joined.push(j);
      }
      await context.close();
    }
    ready.sort((a, b) => a - b);
    joined.sort((a, b) => a - b);
    report(`Parley.embed() → ready (${RUNS} runs)`, `p50 ${percentile(ready, 50).toFixed(0)} ms, p95 ${percentile(ready, 95).toFixed(0)} ms`);
    report(`Parley.embed() → joined, guest with an embed key (${RUNS} runs)`, `p50 ${percentile(joined, 50).toFixed(0)} ms, p95 ${percentile(joined, 95).toFixed(0)} ms`);
  } finally {
    await browser.close();
    await host.close();
    await gateway.stop();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
