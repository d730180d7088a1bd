/** A minimal method + path router with `:param` segments, enough for the REST API. */
import type { IncomingMessage, ServerResponse } from 'node:http';

export type Handler = (req: IncomingMessage, res: ServerResponse, params: Record<string, string>) => Promise<void> | void;

export interface RouteOptions {
  /**
   * Takes state-changing requests from other sites' pages (a SAML IdP's auto-submitted form
   * POSTs to the assertion consumer service); such a handler checks its own proof instead.
   */
  crossSite?: boolean;
}

interface Route extends RouteOptions {
  method: string;
  parts: string[];
  handler: Handler;
}

export class Router {
  readonly #routes: Route[] = [];

  add(method: string, path: string, handler: Handler, options: RouteOptions = {}): this {
    this.#routes.push({ method, parts: path.split('/').filter(Boolean), handler, ...options });
    return this;
  }

  /** The handler for a request, 'method' when the path exists with another method, or undefined. */
  match(method: string, pathname: string): { handler: Handler; params: Record<string, string>; crossSite: boolean } | 'method' | undefined {
    const segs = pathname.split('/').filter(Boolean);
    let pathMatched = false;
    for (const r of this.#routes) {
      if (r.parts.length !== segs.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < segs.length; i++) {
        const p = r.parts[i];
        if (p.startsWith(':')) {
          try {
            params[p.slice(1)] = decodeURIComponent(segs[i]);
          } catch {
            ok = false;
            break;
          }
        } else if (p !== segs[i]) {
          ok = false;
          break;
        }
      }
      if (!ok) continue;
      pathMatched = true;
      if (r.method === method || (method === 'HEAD' && r.method === 'GET')) return { handler: r.handler, params, crossSite: r.crossSite === true };
    }
    return pathMatched ? 'method' : undefined;
  }
}
