/**
 * Signed dialog route tokens carried in our Record-Route URIs.
 *
 * A token names the two flows of a dialog (caller side "a", callee side "b") and the AOR
 * behind each, signed with HMAC so that nobody can craft a Route that makes the proxy send
 * to an arbitrary flow or host: only dialogs this proxy set up can be routed (no open relay).
 */
import crypto from 'node:crypto';

export interface DialogRoute {
  flowA: string;
  aorA: string;
  flowB: string;
  aorB: string;
}

/**
 * A request one gateway node hands to another for a binding whose flow that node holds
 * (several nodes, REDIS_URL): carried in the Route the receiving node pops. It expires, so a
 * captured Route cannot be replayed later to reach the device.
 */
export interface NodeRelay {
  fromNode: string;
  callerAor: string;
  aor: string;
  /** bindingKey of the binding to reach. */
  bindingKey: string;
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

const MAC_BYTES = 10;
/** Verified tokens and flow MACs are remembered: every request of a dialog carries the same one. */
const CACHE_LIMIT = 50_000;

export class RouteTokenSigner {
  readonly #decoded = new Map<string, DialogRoute>();
  readonly #flowMacs = new Map<string, string>();

  constructor(private readonly key: Buffer) {}

  encode(route: DialogRoute): string {
    const payload = Buffer.from([route.flowA, route.aorA, route.flowB, route.aorB].join('\n'), 'utf8');
    return `${payload.toString('base64url')}.${this.#mac(payload).toString('base64url')}`;
  }

  decode(token: string): DialogRoute | undefined {
    const hit = this.#decoded.get(token);
    if (hit) return hit;
    const route = this.#verify(token);
    if (route) remember(this.#decoded, token, route);
    return route;
  }

  #verify(token: string): DialogRoute | undefined {
    const dot = token.indexOf('.');
    if (dot < 0 || token.length > 512) return undefined;
    const payload = Buffer.from(token.slice(0, dot), 'base64url');
    const mac = Buffer.from(token.slice(dot + 1), 'base64url');
    if (mac.length !== MAC_BYTES || !crypto.timingSafeEqual(mac, this.#mac(payload))) return undefined;
    const parts = payload.toString('utf8').split('\n');
    if (parts.length !== 4) return undefined; // (a node relay token is not a dialog's)
    const [flowA, aorA, flowB, aorB] = parts as [string, string, string, string];
    return { flowA, aorA, flowB, aorB };
  }

  encodeRelay(relay: NodeRelay): string {
    const payload = Buffer.from(['relay', relay.fromNode, relay.callerAor, relay.aor, relay.bindingKey, String(relay.expiresAt)].join('\n'), 'utf8');
    return `${payload.toString('base64url')}.${this.#mac(payload).toString('base64url')}`;
  }

  /** The relay, if the token is ours and has not expired. */
  decodeRelay(token: string, now = Date.now()): NodeRelay | undefined {
    const dot = token.indexOf('.');
    if (dot < 0 || token.length > 1024) return undefined;
    const payload = Buffer.from(token.slice(0, dot), 'base64url');
    const mac = Buffer.from(token.slice(dot + 1), 'base64url');
    if (mac.length !== MAC_BYTES || !crypto.timingSafeEqual(mac, this.#mac(payload))) return undefined;
    const [kind, fromNode, callerAor, aor, bindingKey, expires] = payload.toString('utf8').split('\n');
    const expiresAt = Number(expires);
    if (kind !== 'relay' || !fromNode || !aor || bindingKey === undefined || !(expiresAt > now)) return undefined;
    return { fromNode, callerAor: callerAor ?? '', aor, bindingKey, expiresAt };
  }

  /**
   * Signs a flow id for our Via, so a stray response can only be sent back over a flow
   * a request really came from (never to an address an attacker picks).
   */
  signFlow(flowId: string): string {
    let mac = this.#flowMacs.get(flowId);
    if (!mac) {
      mac = this.#mac(Buffer.from(`flow\n${flowId}`)).toString('base64url');
      remember(this.#flowMacs, flowId, mac);
    }
    return mac;
  }

  verifyFlow(flowId: string, mac: string): boolean {
    const expected = Buffer.from(this.signFlow(flowId));
    const given = Buffer.from(mac);
    return given.length === expected.length && crypto.timingSafeEqual(given, expected);
  }

  #mac(data: Buffer): Buffer {
    return crypto.createHmac('sha256', this.key).update(data).digest().subarray(0, MAC_BYTES);
  }
}

function remember<V>(cache: Map<string, V>, key: string, value: V): void {
  if (cache.size >= CACHE_LIMIT) cache.clear();
  cache.set(key, value);
}
