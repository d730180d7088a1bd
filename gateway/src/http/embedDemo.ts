/**
 * /embed-demo: each widget type running on this server's own origin, with the code a site
 * would paste. Signed-in Parley users are recognised inside the widgets; guests need a site's
 * embed key (`parley embed-key`) or a guest link, which the page explains.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function serveEmbedDemo(_req: IncomingMessage, res: ServerResponse, origin: string): void {
  const examples = [
    {
      id: 'meet',
      title: 'A meeting',
      code: `<script src="${origin}/widget.js"></script>
<div id="meet" style="height: 420px"></div>
<script>
  const meeting = Parley.embed('#meet', { type: 'meeting', room: 'embed-demo', displayName: 'Guest' });
  meeting.on('participantJoined', (p) => console.log(p.displayName, 'joined'));
  // meeting.command('toggleAudio');
</script>`,
    },
    {
      id: 'call',
      title: 'Click to call',
      code: `<div id="call" style="height: 320px"></div>
<script>
  const button = Parley.embed('#call', { type: 'call', to: 'support' });
  button.on('callState', (s) => console.log('call', s.state));
</script>`,
    },
    {
      id: 'chat',
      title: 'A chat box',
      code: `<div id="chat" style="height: 420px"></div>
<script>
  const chat = Parley.embed('#chat', { type: 'chat', with: 'support' });
  chat.on('messageReceived', (m) => console.log(m.from, m.text));
</script>`,
    },
  ];
  const sections = examples
    .map(
      (e) => `<section><h2>${e.title}</h2><pre><code>${escapeHtml(e.code)}</code></pre><div id="${e.id}" class="box"></div></section>`,
    )
    .join('\n');
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Parley widgets</title>
<style>
  body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 960px; padding: 16px; line-height: 1.45 }
  pre { background: #f0f2f5; padding: 12px; border-radius: 8px; overflow: auto; font-size: 13px }
  .box { height: 420px; border: 1px solid #ccd; border-radius: 8px; margin-bottom: 32px }
  @media (prefers-color-scheme: dark) { body { background: #111; color: #eee } pre { background: #222 } }
</style></head>
<body>
<h1>Parley widgets</h1>
<p>Put Parley on any page with two lines. Sites must be listed in <code>PARLEY_EMBED_ORIGINS</code>;
signed-in Parley users are recognised, and guests join meetings with the site's embed key
(<code>npx parley embed-key --origin https://your.site --room 'name-*'</code>, passed as
<code>embedKey</code>) or a guest link's token (<code>guestToken</code>). Types:
<code>${escapeHtml(`${origin}/widget.d.ts`)}</code>.</p>
${sections}
<script src="/widget.js"></script>
<script>
  Parley.embed('#meet', { type: 'meeting', room: 'embed-demo', displayName: 'Guest' });
  Parley.embed('#call', { type: 'call', to: 'support' });
  Parley.embed('#chat', { type: 'chat', with: 'support' });
</script>
</body></html>`;
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-cache' });
  res.end(html);
}
