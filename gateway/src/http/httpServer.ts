/**
 * The public HTTP origin: the built web app, the REST API, health and metrics, and the
 * WebSocket upgrades (/sip, /xmpp, /sfu register theirs) and prefixes (/http-bind, /upload/).
 * http/ owns HTTP for the gateway: this server, the router, and api/ — the REST endpoints,
 * whose request and response shapes are the contracts in contracts/rest/.
 */
import fs from 'node:fs';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import sirv from 'sirv';
import type { Logger } from '../../../server-common/logger.js';
import { HttpError, sendError, sendJson } from './httpUtil.js';
import { Router } from './router.js';

export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;
/** Handles a request under a path prefix; returns false to let the next handler try. */
export type PrefixHandler = (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean | void> | boolean | void;

export interface HttpServerOptions {
  port: number;
  host: string;
  /** Folder with the built client (index.html and assets); may be missing in API-only tests. */
  staticDir: string;
  /** Public origin, e.g. http://localhost:8080; POSTs from other origins are refused. */
  publicUrl: string;
  /** Origins whose pages may frame the /embed/ pages; every other page may not be framed at all. */
  embedOrigins?: string[];
  logger: Logger;
}

const SECURITY_HEADERS: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'same-origin',
  'Content-Security-Policy': "frame-ancestors 'none'",
  'Permissions-Policy': 'camera=(self), microphone=(self), display-capture=(self)',
};

/** Paths the router serves (the REST API, sign-in with identity providers, provisioning files); the rest is the app. */
const ROUTED_PREFIXES = ['/api/', '/auth/', '/provisioning/'];

export class HttpServer {
  readonly router = new Router();
  readonly server: http.Server;
  readonly #upgrades = new Map<string, UpgradeHandler>();
  readonly #prefixes: Array<[string, PrefixHandler]> = [];
  readonly #o: HttpServerOptions;
  readonly #static: ReturnType<typeof sirv> | undefined;
  readonly #indexHtml: string | undefined;
  readonly #allowedOrigins: Set<string>;

  constructor(options: HttpServerOptions) {
    this.#o = options;
    const index = path.join(options.staticDir, 'index.html');
    if (fs.existsSync(index)) {
      this.#indexHtml = fs.readFileSync(index, 'utf8');
      this.#static = sirv(options.staticDir, {
        etag: true,
        gzip: false,
        setHeaders: (res, pathname) => {
          // Vite fingerprints asset names, so they can be cached for good.
          if (pathname.startsWith('/assets/')) res.setHeader('Cache-Control', 'public, max-age=31536000, immutable');
        },
      });
    }
    this.#allowedOrigins = new Set([new URL(options.publicUrl).origin]);
    this.server = http.createServer((req, res) => void this.#handle(req, res));
    this.server.on('upgrade', (req, socket, head) => this.#upgrade(req, socket, head));
    this.server.on('clientError', (_err, socket) => socket.destroy());
    this.server.keepAliveTimeout = 65_000;
  }

  get port(): number {
    const a = this.server.address();
    return typeof a === 'object' && a ? a.port : 0;
  }

  onUpgrade(pathname: string, handler: UpgradeHandler): void {
    this.#upgrades.set(pathname, handler);
  }

  /** Requests whose path is `prefix` or below it go to `handler` (BOSH, uploads). */
  onPrefix(prefix: string, handler: PrefixHandler): void {
    this.#prefixes.push([prefix, handler]);
  }

  /** The public origin with the real port (PORT=0 in tests). */
  get publicUrl(): string {
    const u = new URL(this.#o.publicUrl);
    if (u.port === '0') u.port = String(this.port);
    return u.origin;
  }

  async listen(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ port: this.#o.port, host: this.#o.host, backlog: 4096 }, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    // The real port is known now (PORT=0 in tests): accept our own origin on it too.
    this.#allowedOrigins.add(`http://localhost:${this.port}`);
    this.#allowedOrigins.add(`http://127.0.0.1:${this.port}`);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    for (const [k, v] of Object.entries(SECURITY_HEADERS)) res.setHeader(k, v);
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname.startsWith('/embed/')) {
      // The browser enforces who may frame a widget; 'self' keeps /embed-demo working.
      res.setHeader('Content-Security-Policy', `frame-ancestors ${["'self'", ...(this.#o.embedOrigins ?? [])].join(' ')}`);
    }
    try {
      if (ROUTED_PREFIXES.some((p) => url.pathname.startsWith(p)) || url.pathname === '/healthz' || url.pathname === '/metrics') {
        const match = this.router.match(req.method ?? 'GET', url.pathname);
        if (req.method !== 'GET' && req.method !== 'HEAD' && !(match && match !== 'method' && match.crossSite)) this.#checkOrigin(req);
        if (match === 'method') throw new HttpError(405, 'method_not_allowed', `${req.method} is not allowed on ${url.pathname}`);
        if (!match) throw new HttpError(404, 'not_found', `No such endpoint: ${url.pathname}`);
        await match.handler(req, res, match.params);
        return;
      }
      for (const [prefix, handler] of this.#prefixes) {
        if (url.pathname === prefix || url.pathname.startsWith(prefix.endsWith('/') ? prefix : `${prefix}/`)) {
          if ((await handler(req, res, url)) !== false) return;
        }
      }
      this.#serveApp(req, res, url);
    } catch (err) {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (err instanceof HttpError) {
        sendError(res, err);
        return;
      }
      this.#o.logger.error({ err, path: url.pathname }, 'HTTP handler failed');
      sendError(res, new HttpError(500, 'internal_error', 'Something went wrong on the server; try again'));
    }
  }

  /** CSRF defence: a state-changing request from a browser must come from our own origin. */
  #checkOrigin(req: IncomingMessage): void {
    const origin = req.headers.origin;
    if (!origin) return; // not from a browser page (curl, the CLI): cookies are not involved
    if (this.#allowedOrigins.has(origin)) return;
    const host = req.headers.host;
    if (host && (origin === `http://${host}` || origin === `https://${host}`)) return;
    throw new HttpError(403, 'cross_origin', 'Requests from other sites are not allowed');
  }

  #serveApp(req: IncomingMessage, res: ServerResponse, url: URL): void {
    if (!this.#static || !this.#indexHtml) {
      sendJson(res, 503, { error: { code: 'client_not_built', message: 'The web app is not built; run `npm start` (or `npm run build`).' } });
      return;
    }
    const index = this.#indexHtml;
    this.#static(req, res, () => {
      // Unknown paths get the app (client-side routing); files that look like assets get a 404.
      if (path.extname(url.pathname) && url.pathname !== '/index.html') {
        res.statusCode = 404;
        res.setHeader('Content-Type', 'text/plain; charset=utf-8');
        res.end('Not found');
        return;
      }
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-cache' });
      res.end(index);
    });
  }

  #upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const pathname = new URL(req.url ?? '/', 'http://localhost').pathname;
    const handler = this.#upgrades.get(pathname);
    if (!handler) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\n\r\n');
      return;
    }
    socket.on('error', () => {});
    handler(req, socket, head);
  }
}
