/** Browser helpers: a signed-in page per user, and WebRTC statistics read from the page. */
import { expect, type Browser, type BrowserContext, type Frame, type Page } from '@playwright/test';

export interface UserPage {
  name: string;
  context: BrowserContext;
  page: Page;
}

/** Every RTCPeerConnection a page creates, so tests can read getStats() like chrome://webrtc-internals. */
export const CAPTURE_PEER_CONNECTIONS = `
  (() => {
    const Native = window.RTCPeerConnection;
    window.__pcs = [];
    window.RTCPeerConnection = function (...args) {
      const pc = new Native(...args);
      window.__pcs.push(pc);
      return pc;
    };
    window.RTCPeerConnection.prototype = Native.prototype;
    Object.setPrototypeOf(window.RTCPeerConnection, Native);
  })();
`;

export async function openUser(
  browser: Browser,
  baseUrl: string,
  name: string,
  options: {
    viewport?: { width: number; height: number };
    signIn?: { password: string };
    cookies?: Record<string, string>;
    /** Runs on the new context before the page loads (e.g. `routeWebSocket` to cut a connection later). */
    prepare?: (context: BrowserContext) => Promise<void>;
  } = {},
): Promise<UserPage> {
  const context = await browser.newContext({
    baseURL: baseUrl,
    viewport: options.viewport ?? { width: 1100, height: 750 },
    permissions: ['camera', 'microphone'],
  });
  // E.g. a load balancer's sticky-session cookie, to put a user on one node.
  const cookies = Object.entries(options.cookies ?? {}).map(([name, value]) => ({ name, value, url: baseUrl }));
  if (cookies.length) await context.addCookies(cookies);
  await context.addInitScript(CAPTURE_PEER_CONNECTIONS);
  await options.prepare?.(context);
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error(`[${name}] page error:`, err.message));
  await page.goto('/');
  if (options.signIn) {
    await signIn(page, name, options.signIn.password);
    await expect(page.getByTestId('registration')).toHaveText('Ready for calls', { timeout: 15_000 });
  }
  return { name, context, page };
}

export async function signIn(page: Page, username: string, password: string): Promise<void> {
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

export interface InboundMedia {
  audioBytes: number;
  videoBytes: number;
  framesDecoded: number;
  connections: number;
}

/** Sums inbound-rtp statistics over the page's live peer connections. */
export async function inboundMedia(page: Page | Frame): Promise<InboundMedia> {
  return page.evaluate(async () => {
    const pcs = ((window as unknown as { __pcs: RTCPeerConnection[] }).__pcs ?? []).filter((pc) => pc.connectionState !== 'closed');
    const out = { audioBytes: 0, videoBytes: 0, framesDecoded: 0, connections: pcs.length };
    for (const pc of pcs) {
      const stats = await pc.getStats();
      stats.forEach((s: { type: string; kind?: string; bytesReceived?: number; framesDecoded?: number }) => {
        if (s.type !== 'inbound-rtp') return;
        if (s.kind === 'audio') out.audioBytes += s.bytesReceived ?? 0;
        if (s.kind === 'video') {
          out.videoBytes += s.bytesReceived ?? 0;
          out.framesDecoded += s.framesDecoded ?? 0;
        }
      });
    }
    return out;
  });
}

/** Waits until inbound audio bytes, video bytes and decoded frames all grow. */
export async function expectMediaFlowing(page: Page, label: string): Promise<void> {
  const before = await inboundMedia(page);
  await expect
    .poll(
      async () => {
        const now = await inboundMedia(page);
        return {
          audio: now.audioBytes > before.audioBytes,
          video: now.videoBytes > before.videoBytes,
          frames: now.framesDecoded > before.framesDecoded + 5,
        };
      },
      { message: `${label}: inbound audio, video and decoded frames should rise`, timeout: 15_000 },
    )
    .toEqual({ audio: true, video: true, frames: true });
}

/** Inbound media is stopped: over two seconds nothing (beyond a stray packet) arrives. */
export async function expectMediaStopped(page: Page, label: string): Promise<void> {
  await expect
    .poll(
      async () => {
        const a = await inboundMedia(page);
        await page.waitForTimeout(2000);
        const b = await inboundMedia(page);
        return {
          audioBytes: b.audioBytes - a.audioBytes < 600,
          videoBytes: b.videoBytes - a.videoBytes < 600,
          frames: b.framesDecoded - a.framesDecoded <= 1,
        };
      },
      { message: `${label}: inbound media should stop`, timeout: 20_000, intervals: [500] },
    )
    .toEqual({ audioBytes: true, videoBytes: true, frames: true });
}
