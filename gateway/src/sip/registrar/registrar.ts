/**
 * The registrar (RFC 3261 §10.3, RFC 5626 outbound, RFC 3327 Path): authenticates REGISTER
 * with digest (401), checks that users only bind their own address-of-record, and maintains
 * the location store: add/refresh/remove contacts, `*` with Expires 0, q-values, limits.
 */
import type { AccountStore } from '../../directory/accountStore.js';
import type { Logger } from '../../../../server-common/logger.js';
import { TypedEmitter } from '../../../../server-common/typedEmitter.js';
import { refusal, type DigestAuthenticator } from '../auth/digestAuthenticator.js';
import { createResponse, type SipRequest } from '../core/message.js';
import { SipUri } from '../core/uri.js';
import type { LocalDomain } from '../localDomain.js';
import type { ServerTransaction } from '../transaction/serverTransaction.js';
import type { Flow } from '../transport/flow.js';
import { bindingKey, type Binding, type LocationStore } from './locationStore.js';

/** Option tags a REGISTER may Require of this registrar (RFC 5626 outbound, RFC 3327 Path). */
const REGISTRAR_EXTENSIONS = new Set(['outbound', 'path']);

export interface RegistrarOptions {
  domain: LocalDomain;
  accounts: AccountStore;
  locations: LocationStore;
  authenticator: DigestAuthenticator;
  minExpires: number;
  maxExpires: number;
  defaultExpires: number;
  maxBindingsPerUser: number;
  /** This gateway node's id when several share the location store (bindings name the node holding their flow). */
  nodeId?: string;
  /** Told which credential a REGISTER used, and from where (app passwords show their last use). */
  credentialUsed?: (credential: string, by: string) => void;
  logger: Logger;
}

export interface RegistrarEvents {
  /** The set of a user's bindings changed (registered, refreshed away, unregistered). */
  bindingsChanged: [username: string, count: number];
}

export class Registrar extends TypedEmitter<RegistrarEvents> {
  readonly #o: RegistrarOptions;

  constructor(options: RegistrarOptions) {
    super();
    this.#o = options;
  }

  async handle(req: SipRequest, tx: ServerTransaction): Promise<void> {
    const reply = (status: number, reason?: string, headers?: Array<[string, string]>) =>
      tx.respond(createResponse(req, status, { reason, headers }));
    const ruri = req.parsedUri;
    if (!(ruri instanceof SipUri)) return reply(416);
    if (!this.#o.domain.isLocalHost(ruri.host, ruri.port)) return reply(403, 'Not Our Domain');

    // The AOR comes from To (RFC 3261 §10.3 step 5); it must be a SIP or SIPS URI (RFC 4475 §3.3.4).
    const to = req.to.uri;
    if (!(to instanceof SipUri)) return reply(400, 'To Must Be a SIP URI');
    if (!to.user) return reply(404, 'Not Found');
    if (!this.#o.domain.isLocalDomain(to.host)) return reply(403, 'Not Our Domain');
    // A malformed request is refused as such before any challenge.
    try {
      void req.contacts;
    } catch {
      return reply(400, 'Malformed Contact');
    }
    const requireTags = req.list('require').filter((tag) => !REGISTRAR_EXTENSIONS.has(tag.toLowerCase()));
    if (requireTags.length) return reply(420, undefined, [['Unsupported', requireTags.join(', ')]]);

    const auth = await this.#o.authenticator.authenticate(req, 'www', tx.flow.remoteAddress);
    if (!auth.ok) {
      if (auth.reason === 'missing' || auth.reason === 'stale' || auth.reason === 'malformed') {
        return tx.respond(this.#o.authenticator.challenge(req, 'www', auth.stale, tx.flow.protocol));
      }
      this.#o.logger.info({ user: to.userUnescaped, ip: tx.flow.remoteAddress, reason: auth.reason }, 'SIP registration refused');
      const { reason, headers } = refusal(auth);
      return reply(403, reason, headers);
    }
    const username = (to.userUnescaped ?? '').toLowerCase();
    if (auth.username.toLowerCase() !== username) return reply(403, 'Not Your Address-of-Record');
    const account = await this.#o.accounts.get(username);
    if (!account) return reply(404, 'Not Found');
    const aor = `${username}@${this.#o.domain.name}`;

    const headerExpires = req.get('expires');
    const contactValues = req.list('contact');
    const now = Date.now();
    let bindings = await this.#o.locations.list(aor);

    if (contactValues.includes('*')) {
      // RFC 3261 §10.3 step 6: "*" only alone and with Expires: 0.
      if (contactValues.length !== 1 || headerExpires?.trim() !== '0') return reply(400, 'Invalid Wildcard Contact');
      if (bindings.some((b) => b.callId === req.callId && b.cseq >= req.cseq.seq)) return reply(500, 'Out of Order');
      await this.#o.locations.removeAll(aor);
      this.emit('bindingsChanged', username, 0);
      return reply(200, undefined, [['Date', httpDate()]]);
    }

    let contacts;
    try {
      contacts = req.contacts;
    } catch {
      return reply(400, 'Malformed Contact');
    }
    const outbound = (req.get('supported') ?? '').toLowerCase().includes('outbound');
    let usedOutbound = false;
    const path = req.list('path');
    const byKey = new Map(bindings.map((b) => [bindingKey(b), b]));
    const put: Binding[] = [];
    const remove: string[] = [];
    for (const c of contacts) {
      if (!(c.uri instanceof SipUri)) return reply(400, 'Contact Must Be a SIP URI');
      const expiresParam = c.params.get('expires');
      let expires = expiresParam != null ? Number(expiresParam) : headerExpires !== undefined ? Number(headerExpires) : this.#o.defaultExpires;
      if (!Number.isFinite(expires) || expires < 0) return reply(400, 'Bad Expires');
      if (expires > 0 && expires < this.#o.minExpires) {
        return reply(423, undefined, [['Min-Expires', String(this.#o.minExpires)]]);
      }
      expires = Math.min(expires, this.#o.maxExpires);
      const qRaw = c.params.get('q');
      const q = qRaw != null ? Number(qRaw) : 1;
      if (!Number.isFinite(q) || q < 0 || q > 1) return reply(400, 'Bad q-value');
      const instanceId = c.params.get('+sip.instance') ?? undefined;
      const regIdRaw = c.params.get('reg-id');
      const regId = regIdRaw != null && instanceId ? Number(regIdRaw) : undefined;
      if (regId !== undefined && outbound) usedOutbound = true;
      const candidate: Binding = {
        aor,
        contact: c.uri.toString(),
        instanceId: instanceId ?? undefined,
        regId,
        q,
        expiresAt: now + expires * 1000,
        callId: req.callId,
        cseq: req.cseq.seq,
        flowId: tx.flow.id,
        transport: tx.flow.protocol,
        sourceAddress: tx.flow.remoteAddress,
        sourcePort: tx.flow.remotePort,
        path,
        userAgent: req.get('user-agent')?.slice(0, 200),
        registeredAt: now,
        node: this.#o.nodeId,
        credential: auth.credential,
      };
      const key = bindingKey(candidate);
      const existing = byKey.get(key);
      if (existing && existing.callId === req.callId && existing.cseq >= req.cseq.seq) {
        return reply(500, 'Out of Order'); // RFC 3261 §10.3 step 7
      }
      if (expires === 0) {
        byKey.delete(key);
        remove.push(key);
      } else {
        const binding = existing ? { ...candidate, registeredAt: existing.registeredAt } : candidate;
        byKey.set(key, binding);
        put.push(binding);
      }
    }
    bindings = [...byKey.values()];
    if (bindings.length > this.#o.maxBindingsPerUser) {
      return reply(403, 'Too Many Registered Devices');
    }
    if (contacts.length) {
      await this.#o.locations.update(aor, put, remove);
      this.emit('bindingsChanged', username, bindings.length);
    }
    const headers: Array<[string, string]> = bindings.map((b) => [
      'Contact',
      `<${b.contact}>;expires=${Math.max(0, Math.round((b.expiresAt - now) / 1000))}${b.q !== 1 ? `;q=${b.q}` : ''}${b.instanceId ? `;+sip.instance=${b.instanceId};reg-id=${b.regId ?? 1}` : ''}`,
    ]);
    headers.push(['Date', httpDate()]);
    if (usedOutbound) headers.push(['Require', 'outbound']);
    if (path.length) headers.push(['Supported', 'path']);
    tx.respond(createResponse(req, 200, { headers }));
    this.#o.credentialUsed?.(auth.credential, `SIP from ${tx.flow.remoteAddress}`);
  }

  /**
   * Removes the user's bindings that `keep` refuses (their credential was revoked, the account
   * disabled); resolves to how many went.
   */
  async endBindings(username: string, keep: (binding: Binding) => boolean): Promise<number> {
    const aor = `${username}@${this.#o.domain.name}`;
    const bindings = await this.#o.locations.list(aor);
    const gone = bindings.filter((b) => !keep(b));
    if (!gone.length) return 0;
    await this.#o.locations.update(aor, [], gone.map(bindingKey));
    this.emit('bindingsChanged', username, bindings.length - gone.length);
    this.#o.logger.info({ user: username, bindings: gone.length }, 'SIP registrations ended: their credentials no longer count');
    return gone.length;
  }

  /** A connection closed: its bindings cannot be reached any more (RFC 5626 §4.4.1). */
  async flowClosed(flow: Flow): Promise<void> {
    const aors = await this.#o.locations.removeFlow(flow.id);
    for (const aor of aors) {
      const left = await this.#o.locations.list(aor);
      this.emit('bindingsChanged', aor.slice(0, aor.lastIndexOf('@')), left.length);
    }
  }
}

let dateCache = { second: 0, text: '' };

/** The Date header value (RFC 3261 §20.17), formatted once per second. */
function httpDate(now = Date.now()): string {
  const second = Math.floor(now / 1000);
  if (second !== dateCache.second) dateCache = { second, text: new Date(second * 1000).toUTCString() };
  return dateCache.text;
}
