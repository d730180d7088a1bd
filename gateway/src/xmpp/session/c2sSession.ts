/**
 * One client-to-server session (RFC 6120): stream negotiation (STARTTLS, SASL, resource
 * binding), stream management (XEP-0198, including resumption on a new connection), and the
 * hand-over of stanzas to the server's router once bound. Transport-independent.
 *
 * A client's stanzas are handled one after another, in the order they came (a handler may
 * wait for the database). A stanza counts towards the stream-management `h` the server
 * reports only once it is handled and every write it asked to wait for (`holdAck`: archive
 * rows, offline copies) is committed — so what the server acknowledged survives a crash.
 */
import crypto from 'node:crypto';
import type { Element } from 'ltx';
import type { GatewayConfig } from '../../config.js';
import type { Logger } from '../../../../server-common/logger.js';
import { RateLimiter } from '../../../../server-common/rateLimiter.js';
import { Jid } from '../core/jid.js';
import { NS } from '../../../../contracts/xmpp/namespaces.js';
import { child, el, stanzaError, StreamError, streamErrorElement, textOf } from '../core/xml.js';
import type { StreamReceiver, StreamTransport } from '../transport/streamTransport.js';
import { AckHolds } from './ackHolds.js';
import { PlainServer, ScramServer, type SaslMechanism, type SaslStep, type XmppAuthenticator } from './sasl.js';
import { StreamManagement } from './streamManagement.js';

export interface SessionHost {
  readonly domain: string;
  readonly config: GatewayConfig['xmpp'];
  readonly auth: XmppAuthenticator;
  readonly logger: Logger;
  /** Registers a freshly bound session (replacing one with the same full JID). */
  bind(session: C2SSession): 'ok' | 'too-many';
  /** A stanza from the client of a bound session; resolves when it is handled. */
  route(session: C2SSession, stanza: Element): void | Promise<void>;
  /** A hibernating session of `username` with this stream-management id. */
  findResumable(previd: string, username: string): C2SSession | undefined;
  /** The session is over (bound or not); `unacked` stanzas never reached the client. */
  ended(session: C2SSession, unacked: Element[]): void;
  /** A bound session went into hibernation (XEP-0198) or was resumed. */
  stateChanged(session: C2SSession): void;
}

type State = 'connected' | 'authenticated' | 'bound' | 'hibernating' | 'closed';

const STANZAS = new Set(['message', 'presence', 'iq']);
const MAX_AUTH_FAILURES = 3;

let nextSessionId = 1;

export class C2SSession implements StreamReceiver {
  readonly sessionId = nextSessionId++;
  transport: StreamTransport;
  state: State = 'connected';
  username: string | undefined;
  /** What the client authenticated with: "account", "session" or "app:<id>" (ended when that is revoked). */
  credential: string | undefined;
  jid: Jid | undefined;
  // What services know about the session (its presence, carbons …) they keep themselves.

  #sasl: SaslMechanism | undefined;
  #authFailures = 0;
  #sm: StreamManagement | undefined;
  #resumeTimer: NodeJS.Timeout | undefined;
  /** Settles when the last stanza received so far has been handled. */
  #routing: Promise<void> = Promise.resolve();
  /** Settles when the last stanza received so far has been counted (its writes committed). */
  #counted: Promise<void> = Promise.resolve();
  /** Writes the stanza being handled waits for before it counts as received. */
  readonly #holds = new AckHolds();
  readonly #rate: RateLimiter;
  readonly #host: SessionHost;
  readonly #log: Logger;

  constructor(transport: StreamTransport, host: SessionHost) {
    this.transport = transport;
    this.#host = host;
    this.#log = host.logger;
    this.#rate = new RateLimiter(host.config.ratePerSecond);
  }

  get fullJid(): string {
    return this.jid?.full ?? '';
  }

  get bareJid(): string {
    return this.jid?.bare ?? '';
  }

  get smId(): string | undefined {
    return this.#sm?.resumable ? this.#sm.id : undefined;
  }

  get isActive(): boolean {
    return this.state === 'bound';
  }

  /** Sends a stanza to the client (queued while hibernating; counted for stream management). */
  send(stanza: Element): void {
    if (this.state === 'closed') return;
    const requestAck = this.#sm ? this.#sm.sent(stanza) : false;
    if (this.state === 'hibernating') return; // kept in the SM queue for resumption
    this.transport.send(stanza);
    if (requestAck) this.transport.send(el('r', { xmlns: NS.sm }));
  }

  /**
   * The stanza being handled is acknowledged (XEP-0198) only after `write` commits; a failed
   * write ends the stream instead, so the client sends the stanza again. Call it before the
   * handler's promise settles.
   */
  holdAck(write: Promise<unknown>): void {
    this.#holds.add(write);
  }

  /**
   * Runs a handler outside the stanza loop (a room stanza handled again after its home node
   * died); returns the writes it held, which the caller waits for instead.
   */
  collectHolds(handle: () => void | Promise<void>): ReturnType<AckHolds['collect']> {
    return this.#holds.collect(handle);
  }

  /** Ends the session with a stream error (or gracefully). */
  close(error?: StreamError): void {
    if (this.state === 'closed') return;
    if (error) this.#log.debug({ jid: this.fullJid, condition: error.condition }, 'XMPP stream error');
    this.transport.closeStream(error ? streamErrorElement(error.condition, error.message !== error.condition ? error.message : undefined) : undefined);
    this.#end();
  }

  // ---- StreamReceiver ------------------------------------------------------------------

  onStreamOpen(attrs: Record<string, string>): void {
    if (this.state === 'bound' || this.state === 'closed') return;
    const id = crypto.randomBytes(12).toString('base64url');
    const features = this.#features();
    this.transport.openStream({ id, from: this.#host.domain, version: '1.0', lang: 'en' }, features);
    if (attrs.to !== undefined && attrs.to.toLowerCase() !== this.#host.domain) {
      this.close(new StreamError('host-unknown', `This server serves ${this.#host.domain}`));
      return;
    }
    if (attrs.version !== undefined && !attrs.version.startsWith('1.')) {
      this.close(new StreamError('unsupported-version'));
      return;
    }
    const ns = attrs.xmlns;
    if (ns !== undefined && ns !== NS.client && ns !== NS.framing) {
      this.close(new StreamError('invalid-namespace', `Only ${NS.client} streams are served`));
    }
  }

  onElement(e: Element): void {
    if (this.state === 'closed') return;
    if (!this.#rate.take('stanzas')) {
      this.close(new StreamError('policy-violation', `More than ${this.#host.config.ratePerSecond} stanzas per second`));
      return;
    }
    const ns = e.attrs.xmlns;
    if (STANZAS.has(e.name)) {
      if (ns !== undefined && ns !== NS.client) {
        this.close(new StreamError('invalid-namespace', `Stanzas must be in ${NS.client}`));
        return;
      }
      if (this.state !== 'bound') {
        if (this.state === 'authenticated' && e.name === 'iq') return this.#onPreBindIq(e);
        this.close(new StreamError('not-authorized', 'Authenticate and bind a resource first'));
        return;
      }
      this.#receive(e);
      return;
    }
    switch (ns) {
      case NS.tls:
        return this.#onStartTls(e);
      case NS.sasl:
        return void this.#onSasl(e);
      case NS.sm:
        return this.#onStreamManagement(e);
    }
    this.close(new StreamError('unsupported-stanza-type', `<${e.name}/> is not something this server understands`));
  }

  /** Hands a stanza to the router after the ones before it, and counts it once its writes are committed. */
  #receive(stanza: Element): void {
    const sm = this.#sm;
    const holds: Array<Promise<unknown>> = [];
    const handled = this.#routing.then(() => {
      if (this.state === 'closed') return;
      this.#holds.begin(holds);
      return this.#host.route(this, stanza);
    });
    this.#routing = handled.catch((err: unknown) => this.#log.error({ err }, 'XMPP stanza handling failed'));
    const durable = this.#routing.then(() => Promise.all(holds)).then(
      () => true,
      (err: unknown) => {
        this.#log.error({ err, jid: this.fullJid }, 'XMPP stanza could not be stored');
        return false;
      },
    );
    this.#counted = Promise.all([this.#counted, durable]).then(([, stored]) => {
      if (!stored) this.close(new StreamError('internal-server-error', 'The server could not store a message; reconnect and send it again'));
      else if (sm && this.#sm === sm) sm.received();
    });
  }

  onStreamClose(): void {
    // The client ends the stream gracefully: close ours and end (no resumption).
    this.transport.closeStream();
    this.#end();
  }

  onTransportClosed(): void {
    if (this.state === 'closed' || this.state === 'hibernating') return;
    if (this.state === 'bound' && this.#sm?.resumable && this.#host.config.resumeSeconds > 0) {
      // XEP-0198: keep the session (and everything sent to it) for a while; the client may resume.
      this.state = 'hibernating';
      this.#resumeTimer = setTimeout(() => this.#end(), this.#host.config.resumeSeconds * 1000);
      this.#resumeTimer.unref();
      this.#host.stateChanged(this);
      return;
    }
    this.#end();
  }

  onStreamError(err: StreamError): void {
    this.close(err);
  }

  /** Ends a hibernating session now (its user is back on another connection). */
  endHibernation(): void {
    if (this.state === 'hibernating') this.#end();
  }

  /** A new connection resumes this hibernating (or still connected) session (XEP-0198 §5). */
  resumeOn(transport: StreamTransport, h: number): boolean {
    if (!this.#sm || this.state === 'closed') return false;
    if (!this.#sm.acknowledge(h)) return false;
    clearTimeout(this.#resumeTimer);
    const old = this.transport;
    if (this.state === 'bound') old.closeStream(streamErrorElement('conflict', 'The session was resumed on another connection'));
    this.transport = transport;
    transport.setReceiver(this);
    const wasHibernating = this.state === 'hibernating';
    this.state = 'bound';
    if (wasHibernating) this.#host.stateChanged(this);
    // h covers what is stored so far; a stanza of the old connection still being written is
    // sent again by the client and may arrive twice (never lost).
    transport.send(el('resumed', { xmlns: NS.sm, previd: this.#sm.id, h: this.#sm.inbound }));
    for (const stanza of this.#sm.peekUnacked()) transport.send(stanza);
    return true;
  }

  // ---- negotiation ---------------------------------------------------------------------

  #features(): Element {
    const features = el('stream:features');
    const t = this.transport;
    const loopback = isLoopback(t.remoteAddress);
    if (this.state === 'connected') {
      if (t.canStartTls) {
        const mustTls = this.#host.config.requireTls && !loopback;
        features.cnode(el('starttls', { xmlns: NS.tls }, mustTls ? el('required') : undefined));
        if (mustTls) return features;
      }
      const mechanisms = el('mechanisms', { xmlns: NS.sasl });
      mechanisms.cnode(el('mechanism', {}, 'SCRAM-SHA-256'));
      mechanisms.cnode(el('mechanism', {}, 'SCRAM-SHA-1'));
      // PLAIN sends the password itself: only over an encrypted or loopback connection.
      if (t.secure || loopback) mechanisms.cnode(el('mechanism', {}, 'PLAIN'));
      features.cnode(mechanisms);
    } else if (this.state === 'authenticated') {
      features.cnode(el('bind', { xmlns: NS.bind }));
      features.cnode(el('session', { xmlns: NS.session }, el('optional')));
      features.cnode(el('sm', { xmlns: NS.sm }));
      features.cnode(el('sub', { xmlns: NS.preApproval }));
    }
    return features;
  }

  #onStartTls(e: Element): void {
    if (e.name !== 'starttls' || this.state !== 'connected' || !this.transport.canStartTls || !this.transport.startTls) {
      this.transport.send(el('failure', { xmlns: NS.tls }));
      this.close();
      return;
    }
    this.transport.send(el('proceed', { xmlns: NS.tls }));
    this.transport.startTls().catch((err: Error) => {
      this.#log.debug({ err: err.message }, 'XMPP STARTTLS failed');
      this.#end();
    });
  }

  async #onSasl(e: Element): Promise<void> {
    if (this.state !== 'connected') {
      this.close(new StreamError('policy-violation', 'Already authenticated'));
      return;
    }
    const loopback = isLoopback(this.transport.remoteAddress);
    if (this.transport.canStartTls && this.#host.config.requireTls && !loopback) {
      this.close(new StreamError('policy-violation', 'Use STARTTLS before authenticating'));
      return;
    }
    let step: SaslStep;
    if (e.name === 'auth') {
      const mech = e.attrs.mechanism;
      const remote = this.transport.remoteAddress;
      if (mech === 'SCRAM-SHA-256') this.#sasl = new ScramServer('sha256', this.#host.auth, remote);
      else if (mech === 'SCRAM-SHA-1') this.#sasl = new ScramServer('sha1', this.#host.auth, remote);
      else if (mech === 'PLAIN' && (this.transport.secure || loopback)) this.#sasl = new PlainServer(this.#host.auth, remote);
      else return this.#saslFailure({ kind: 'failure', condition: 'invalid-mechanism' });
      step = await this.#sasl.start(decodeSasl(textOf(e)));
    } else if (e.name === 'response' && this.#sasl) {
      step = await this.#sasl.step(decodeSasl(textOf(e)));
    } else if (e.name === 'abort') {
      this.#sasl = undefined;
      return this.#saslFailure({ kind: 'failure', condition: 'aborted' });
    } else {
      return this.#saslFailure({ kind: 'failure', condition: 'malformed-request' });
    }
    if (this.state !== 'connected') return; // closed while we were checking
    if (step.kind === 'challenge') {
      this.transport.send(el('challenge', { xmlns: NS.sasl }, step.data.length ? step.data.toString('base64') : '='));
      return;
    }
    if (step.kind === 'failure') return this.#saslFailure(step);
    this.#sasl = undefined;
    this.username = step.username;
    this.credential = step.credential;
    this.state = 'authenticated';
    this.transport.send(el('success', { xmlns: NS.sasl }, step.data?.toString('base64')));
    this.transport.restartStream();
  }

  #saslFailure(step: Extract<SaslStep, { kind: 'failure' }>): void {
    this.#sasl = undefined;
    this.transport.send(
      el('failure', { xmlns: NS.sasl }, el(step.condition), step.text ? el('text', { 'xml:lang': 'en' }, step.text) : undefined),
    );
    if (step.condition === 'not-authorized' && ++this.#authFailures >= MAX_AUTH_FAILURES) {
      this.close(new StreamError('not-authorized', 'Too many failed authentication attempts'));
    }
  }

  #onPreBindIq(iq: Element): void {
    const bind = child(iq, 'bind', NS.bind);
    if (iq.attrs.type === 'set' && bind) {
      const requested = textOf(child(bind, 'resource')).trim();
      const resource = requested && requested.length <= 1023 && !/[\u0000-\u001f\u007f]/.test(requested) ? requested : crypto.randomBytes(6).toString('hex');
      this.jid = new Jid(this.username, this.#host.domain, resource);
      this.state = 'bound';
      if (this.#host.bind(this) === 'too-many') {
        this.state = 'authenticated';
        this.jid = undefined;
        this.transport.send(
          stanzaError(iq, 'wait', 'resource-constraint', `At most ${this.#host.config.maxSessionsPerUser} connections per user; close another one first`),
        );
        return;
      }
      this.transport.send(el('iq', { type: 'result', id: iq.attrs.id }, el('bind', { xmlns: NS.bind }, el('jid', {}, this.fullJid))));
      return;
    }
    this.transport.send(stanzaError(iq, 'cancel', 'not-allowed', 'Bind a resource first'));
  }

  #onStreamManagement(e: Element): void {
    switch (e.name) {
      case 'enable': {
        if (this.state !== 'bound' || this.#sm) {
          this.transport.send(el('failed', { xmlns: NS.sm }, el('unexpected-request', { xmlns: NS.stanzaErrors })));
          return;
        }
        const resume = e.attrs.resume === 'true' || e.attrs.resume === '1';
        this.#sm = new StreamManagement(resume);
        const max = this.#host.config.resumeSeconds;
        this.transport.send(el('enabled', { xmlns: NS.sm, id: resume ? this.#sm.id : undefined, resume: resume ? 'true' : undefined, max: resume ? max : undefined }));
        return;
      }
      case 'r': {
        const sm = this.#sm;
        // Answered once the stanzas before it are handled and stored.
        if (sm) void this.#counted.then(() => this.#sm === sm && this.state === 'bound' && this.transport.send(el('a', { xmlns: NS.sm, h: sm.inbound })));
        return;
      }
      case 'a':
        if (this.#sm && !this.#sm.acknowledge(Number(e.attrs.h))) {
          this.close(new StreamError('undefined-condition', 'The h in <a/> acknowledges stanzas that were never sent'));
        }
        return;
      case 'resume': {
        if (this.state !== 'authenticated' || !this.username) {
          this.transport.send(el('failed', { xmlns: NS.sm }, el('unexpected-request', { xmlns: NS.stanzaErrors })));
          return;
        }
        const old = this.#host.findResumable(e.attrs.previd ?? '', this.username);
        if (!old || !old.resumeOn(this.transport, Number(e.attrs.h))) {
          this.transport.send(el('failed', { xmlns: NS.sm }, el('item-not-found', { xmlns: NS.stanzaErrors })));
          return;
        }
        // The transport now belongs to the resumed session; this one is spent.
        this.state = 'closed';
        this.#host.ended(this, []);
        this.#host.logger.debug({ jid: old.fullJid }, 'XMPP session resumed');
        return;
      }
    }
  }

  #end(): void {
    if (this.state === 'closed') return;
    const wasBound = this.state === 'bound' || this.state === 'hibernating';
    this.state = 'closed';
    clearTimeout(this.#resumeTimer);
    // Every session, bound or not, is forgotten by the host (a connection that never signed in
    // would otherwise stay in memory for good).
    this.#host.ended(this, wasBound ? (this.#sm?.takeUnacked() ?? []) : []);
  }
}

function decodeSasl(text: string): Buffer {
  const t = text.trim();
  return t === '=' || t === '' ? Buffer.alloc(0) : Buffer.from(t, 'base64');
}

export function isLoopback(address: string): boolean {
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/** Used by transports to get a session for a new connection. */
export type SessionFactory = (transport: StreamTransport) => C2SSession;
