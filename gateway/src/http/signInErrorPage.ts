/**
 * The page a failed sign-in at an identity provider ends on: what happened and what to do, in
 * the app's own words, with the way back — never a stack trace (the details go to the log).
 */
import type { ServerResponse } from 'node:http';

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function sendSignInError(res: ServerResponse, status: number, code: string, message: string): void {
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign-in did not work · Parley</title>
<style>
  :root { color-scheme: light dark; font-family: system-ui, sans-serif; }
  body { margin: 0; min-height: 100vh; display: grid; place-items: center; background: Canvas; color: CanvasText; }
  main { max-width: 32rem; padding: 2rem; }
  h1 { font-size: 1.5rem; margin: 0 0 1rem; }
  p { line-height: 1.5; }
  a.button { display: inline-block; margin-top: 1rem; padding: .6rem 1.2rem; border-radius: .4rem; background: #1f5fbf; color: #fff; text-decoration: none; }
  a.button:focus-visible { outline: 3px solid #f5b400; outline-offset: 2px; }
  small { opacity: .75; }
</style>
</head>
<body>
<main>
  <h1>Sign-in did not work</h1>
  <p id="reason" data-code="${escapeHtml(code)}">${escapeHtml(message)}</p>
  <a class="button" href="/" autofocus>Back to sign-in</a>
  <p><small>Reference for your administrator: ${escapeHtml(code)}</small></p>
</main>
</body>
</html>
`;
  res.writeHead(status, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(html);
}
