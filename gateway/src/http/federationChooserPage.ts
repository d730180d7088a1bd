/**
 * "Where are you from?" — the federation's IdPs as a searchable list (as academic federations'
 * discovery services show them). It works without script (the search is a GET form filtered on
 * the server); with script, the list narrows as one types. The last choice comes first.
 */
import type { ServerResponse } from 'node:http';
import type { FederationMember } from '../identity/saml/samlFederation.js';

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export interface ChooserPage {
  federationName: string;
  members: FederationMember[];
  /** Where a member's link goes. */
  startUrl: (entityId: string) => string;
  query: string;
  /** The IdP chosen last time on this browser. */
  previous?: FederationMember;
  next: string;
}

export function sendFederationChooser(res: ServerResponse, p: ChooserPage): void {
  const q = p.query.trim().toLowerCase();
  const shown = q ? p.members.filter((m) => m.name.toLowerCase().includes(q) || m.entityId.toLowerCase().includes(q)) : p.members;
  const item = (m: FederationMember) =>
    `<li data-name="${escapeHtml(m.name.toLowerCase())} ${escapeHtml(m.entityId.toLowerCase())}"><a href="${escapeHtml(p.startUrl(m.entityId))}">${escapeHtml(m.name)}</a></li>`;
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Where are you from? · Parley</title>
<style>
  :root { color-scheme: light dark; font-family: system-ui, sans-serif; }
  body { margin: 0; background: Canvas; color: CanvasText; }
  main { max-width: 36rem; margin: 0 auto; padding: 2rem 1rem; }
  h1 { font-size: 1.5rem; }
  label { display: block; font-weight: 600; margin-bottom: .4rem; }
  input[type=search] { width: 100%; box-sizing: border-box; font: inherit; padding: .6rem .7rem; border-radius: .4rem; border: 1px solid GrayText; }
  ul { list-style: none; padding: 0; margin: 1rem 0; }
  li a { display: block; padding: .7rem .5rem; border-bottom: 1px solid color-mix(in srgb, GrayText 40%, transparent); color: inherit; text-decoration: none; }
  li a:hover, li a:focus-visible { background: color-mix(in srgb, #1f5fbf 15%, transparent); outline: none; }
  .previous a { font-weight: 600; }
  .count { opacity: .75; }
  .back { display: inline-block; margin-top: 1rem; }
</style>
</head>
<body>
<main>
  <h1>Where are you from?</h1>
  <p>Choose your organisation in ${escapeHtml(p.federationName)} to sign in there.</p>
  ${p.previous ? `<ul class="previous" aria-label="Your organisation last time">${item(p.previous)}</ul>` : ''}
  <form method="get" role="search">
    <input type="hidden" name="next" value="${escapeHtml(p.next)}">
    <label for="q">Search for your organisation</label>
    <input id="q" name="q" type="search" value="${escapeHtml(p.query)}" autocomplete="organization" autofocus>
  </form>
  <p class="count" id="count" aria-live="polite">${shown.length} of ${p.members.length} organisations</p>
  <ul id="idps" aria-label="Organisations">${shown.map(item).join('')}</ul>
  ${shown.length ? '' : '<p id="none">No organisation matches. Try another part of its name.</p>'}
  <a class="back" href="/">Back to sign-in</a>
</main>
<script>
  // Narrow the list as one types (the form does the same on the server without script).
  const q = document.getElementById('q'), items = [...document.querySelectorAll('#idps li')], count = document.getElementById('count');
  q.addEventListener('input', () => {
    const v = q.value.trim().toLowerCase();
    let n = 0;
    for (const li of items) { const show = !v || li.dataset.name.includes(v); li.hidden = !show; if (show) n++; }
    count.textContent = n + ' of ${p.members.length} organisations';
  });
</script>
</body>
</html>
`;
  res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(html);
}
