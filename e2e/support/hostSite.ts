/**
 * Another web site, on its own origin (a loopback port), whose page embeds Parley with
 * widget.js. The embed options come from the page URL's #fragment; the page records every
 * widget event (with its time) and exposes the widget for commands.
 */
import http from 'node:http';
import type { Page } from '@playwright/test';

export type HostEvent = { name: string; data: Record<string, unknown> };

const EVENTS = ['ready', 'joined', 'left', 'participantJoined', 'participantLeft', 'activeSpeakerChanged', 'audioMuted', 'videoMuted', 'callState', 'messageReceived', 'error'];

export class HostSite {
  readonly server: http.Server;

  constructor(readonly port: number, gatewayUrl: string) {
    const page = `<!doctype html><html><head><meta charset="utf-8"><title>Physics department</title></head>
<body style="font-family: sans-serif; margin: 16px">
<h1>Physics 101 — live lecture</h1>
<div id="widget" style="width: 720px; height: 460px"></div>
<script src="${gatewayUrl}/widget.js"></script>
<script>
  window.events = [];
  const options = JSON.parse(decodeURIComponent(location.hash.slice(1)));
  window.embedStartedAt = performance.now();
  window.widget = Parley.embed('#widget', options);
  for (const name of ${JSON.stringify(EVENTS)}) {
    window.widget.on(name, (data) => window.events.push({ name, data, at: performance.now() }));
  }
</script></body></html>`;
    this.server = http.createServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      res.end(page);
    });
  }

  get origin(): string {
    return `http://localhost:${this.port}`;
  }

  listen(): Promise<void> {
    return new Promise((resolve) => this.server.listen(this.port, '127.0.0.1', resolve));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** The widget events the host page received so far, in order (without times). */
export async function events(page: Page): Promise<HostEvent[]> {
  const list = await page.evaluate('window.events') as Array<HostEvent & { at: number }>;
  return list.map(({ name, data }) => ({ name, data }));
}

/** Milliseconds from Parley.embed() to the first event of that name, or undefined. */
export async function msToEvent(page: Page, name: string): Promise<number | undefined> {
  const [start, list] = (await page.evaluate('[window.embedStartedAt, window.events]')) as [number, Array<HostEvent & { at: number }>];
  const e = list.find((x) => x.name === name);
  return e ? e.at - start : undefined;
}

export function command(page: Page, name: string, data?: unknown): Promise<void> {
  return page.evaluate(`window.widget.command(${JSON.stringify(name)}${data === undefined ? '' : `, ${JSON.stringify(data)}`})`) as Promise<void>;
}
