/**
 * The stateful proxy core (RFC 3261 §16) for every request except REGISTER.
 *
 * Out-of-dialog requests must be authenticated (407) and must come from the user they
 * claim; they are forked to every registered device of a local user. Foreign domains are
 * never relayed. Dialog-creating requests are double Record-Routed with signed tokens
 * naming both flows, so in-dialog requests reach browsers over their own WebSocket and
 * nobody can use a forged Route to relay through us.
 */
import crypto from 'node:crypto';
import type { CallLog } from '../../calls/callLog.js';
import type { AccountStore } from '../../directory/accountStore.js';
import type { Logger } from '../../../../server-common/logger.js';
import { refusal, type DigestAuthenticator } from '../auth/digestAuthenticator.js';
import { quote } from '../core/grammar.js';
import { createResponse, newBranch, type SipRequest, type SipResponse } from '../core/message.js';
import type { NameAddr } from '../core/nameAddr.js';
import { SipUri, parseUri } from '../core/uri.js';
import { parseVia } from '../core/via.js';
import type { LocalDomain } from '../localDomain.js';
import { bindingKey, type Binding, type LocationStore } from '../registrar/locationStore.js';
import { hasVideo, parseSdp, type SessionDescription } from '../sdp/sessionDescription.js';
import type { ServerTransaction } from '../transaction/serverTransaction.js';
import type { TransactionLayer } from '../transaction/transactionLayer.js';
import type { Flow, TransportProtocol } from '../transport/flow.js';
import type { TransportLayer } from '../transport/transportLayer.js';
import { CallMedia, type OfferMedia } from './callMedia.js';
import { ResponseContext, type Branch } from './responseContext.js';
import type { DialogRoute, RouteTokenSigner } from './routeToken.js';

/** A gateway node's node-to-node SIP listener (TCP). */
export interface NodeAddress {
  host: string;
  port: number;
}

/**
 * The other gateway nodes, when several share the users (REDIS_URL): a binding names the node
 * holding its flow, and a request for it is handed to that node, which delivers it on the flow
 * (RFC 3327 Path / RFC 5626 style: SIP between nodes stays SIP).
 */
export interface NodeRouting {
  readonly nodeId: string;
  readonly self: NodeAddress;
  /** A live node's address, or undefined when it is gone. */
  address(nodeId: string): NodeAddress | undefined;
}

/** Flow ids of the form n~<node> stand for "the gateway node <node>" in route tokens. */
const NODE_FLOW = 'n~';
/** How long a node-to-node relay Route stays valid (RFC 3261 Timer B). */
const RELAY_TTL_MS = 32_000;

export interface ProxyOptions {
  domain: LocalDomain;
  transport: TransportLayer;
  transactions: TransactionLayer;
  authenticator: DigestAuthenticator;
  accounts: AccountStore;
  locations: LocationStore;
  tokens: RouteTokenSigner;
  callLog: CallLog;
  inviteTimeoutSeconds: number;
  /** Set when several gateway nodes share the users. */
  nodes?: NodeRouting;
  /** Media bridging decisions; by default none is possible (no bridge). */
  media?: CallMedia;
  logger: Logger;
}

/** Methods that create a dialog and so are Record-Routed. */
const DIALOG_CREATING = new Set(['INVITE', 'SUBSCRIBE', 'REFER']);
export const ALLOWED_METHODS = 'INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE, INFO, UPDATE, REFER, NOTIFY, SUBSCRIBE, PRACK';
const KNOWN_METHODS = new Set([...ALLOWED_METHODS.split(', '), 'REGISTER', 'PUBLISH']);
/** Option tags the gateway supports where it is the UAS (RFC 3327 Path, RFC 5626 outbound). */
const SERVER_EXTENSIONS = new Set(['path', 'outbound']);
const LOOP_PREFIX = 'z9hG4bKP';
const SECURE_TRANSPORTS = new Set<TransportProtocol>(['tls', 'wss']);

export class Proxy {
  readonly #o: ProxyOptions;
  readonly #log: Logger;
  readonly #contexts = new Map<string, ResponseContext>();
  readonly #host: string;
  readonly #port: number;
  readonly #media: CallMedia;

  constructor(options: ProxyOptions) {
    this.#o = options;
    this.#log = options.logger;
    this.#media = options.media ?? new CallMedia({ always: false, maxCalls: 0, logger: options.logger });
    this.#host = options.domain.advertisedHost;
    this.#port = options.domain.port;
  }

  get pendingContexts(): number {
    return this.#contexts.size;
  }

  /** Requests handed to another gateway node for a flow it holds, and taken from other nodes. */
  readonly nodeRelays = { sent: 0, received: 0 };

  async handleRequest(req: SipRequest, st: ServerTransaction): Promise<void> {
    const reply = (status: number, reason?: string, headers?: Array<[string, string]>) =>
      st.respond(createResponse(req, status, { reason, headers }));

    // RFC 3261 §16.3: request validation.
    const ruri = req.parsedUri;
    if (!(ruri instanceof SipUri)) return reply(416);
    const mfRaw = req.get('max-forwards');
    const maxForwards = mfRaw === undefined ? 70 : Number(mfRaw);
    if (maxForwards === 0) {
      if (req.method === 'OPTIONS' && this.#isForUs(req)) return this.#answerOptions(req, st);
      return reply(483);
    }
    const hash = loopHash(req);
    if (this.#isLoop(req, hash)) return reply(482);
    const proxyRequire = req.list('proxy-require');
    if (proxyRequire.length) return reply(420, undefined, [['Unsupported', proxyRequire.join(', ')]]);

    // §16.4: route information preprocessing — pop every Route that names us.
    const ourRoute = this.#popOurRoutes(req);

    if (req.method === 'CANCEL') return this.#handleCancel(req, st);

    let inDialog = false;
    try {
      inDialog = req.to.tag !== undefined;
    } catch {
      return reply(400, 'Malformed To');
    }
    if (ourRoute?.relay) {
      if (inDialog) return reply(403, 'Bad Route');
      return this.#relayFromNode(req, st, ourRoute.relay, maxForwards, hash);
    }
    if (ourRoute?.token) return this.#forwardInDialog(req, st, ourRoute, hash);
    if (inDialog) return reply(481); // a dialog that does not run through us
    if (req.routes.length) return reply(403, 'Relaying Forbidden');

    if (!this.#o.domain.isLocalDomain(ruri.host) && !this.#o.domain.isLocalHost(ruri.host, ruri.port)) {
      return reply(403, 'Relaying Forbidden'); // never an open relay, authenticated or not
    }
    if (!ruri.user) {
      // A request for the server itself: only OPTIONS (and REGISTER, handled by the registrar) mean anything.
      if (req.method === 'OPTIONS') return this.#answerOptions(req, st);
      if (KNOWN_METHODS.has(req.method)) return reply(405, undefined, [['Allow', 'OPTIONS, REGISTER']]);
      return reply(501);
    }

    // A call's body must be a session description the gateway can read (RFC 3261 §8.2.3):
    // said before authentication, as it reveals nothing.
    let offer: SessionDescription | undefined;
    if (req.method === 'INVITE') {
      const refusal = unsupportedCallBody(req);
      if (refusal) return reply(415, undefined, [refusal]);
      if (req.body.length) {
        try {
          offer = parseSdp(req.body.toString('utf8'));
        } catch (err) {
          // RFC 3261 §21.4.26: the session description is not acceptable; Warning 399 says why.
          const why = (err as Error).message.replace(/["\\]/g, "'");
          return reply(488, undefined, [['Warning', `399 ${this.#host} "Malformed session description: ${why}"`]]);
        }
      }
    }

    const username = await this.#authenticate(req, st);
    if (!username) return;

    const callee = (ruri.userUnescaped ?? '').toLowerCase();
    const account = await this.#o.accounts.get(callee);
    if (!account) return reply(404);
    const aor = `${callee}@${this.#o.domain.name}`;
    // RFC 5630: a sips: request travels over secured hops only — in, and out to the device.
    const secureOnly = ruri.scheme === 'sips';
    if (secureOnly && !SECURE_TRANSPORTS.has(st.flow.protocol)) {
      return reply(403, 'Secure Transport Required', [['Warning', `399 ${this.#host} "A sips: request must come over TLS (port ${this.#o.domain.tlsPort ?? 5061})"`]]);
    }
    const bindings = (await this.#o.locations.list(aor)).filter((b) => !secureOnly || SECURE_TRANSPORTS.has(b.transport));
    const isCall = req.method === 'INVITE';
    if (isCall) this.#o.callLog.invited(req.callId, username, callee, offer !== undefined && hasVideo(offer));
    if (!bindings.length) {
      if (isCall) this.#o.callLog.finalResponse(req.callId, 480, []);
      return reply(480);
    }
    await this.#fork(req, st, username, maxForwards, bindings, hash, this.#media.describeOffer(offer, st.flow));
  }

  /** An ACK for a 2xx: end to end, forwarded statelessly along the dialog's route. */
  async handleAck(ack: SipRequest, flow: Flow): Promise<void> {
    const ourRoute = this.#popOurRoutes(ack);
    if (!ourRoute?.token) return; // not ours to route: drop (RFC 3261 §16.4)
    const target = await this.#dialogTarget(ack, ourRoute);
    if (typeof target === 'string') return;
    this.#prepareForward(ack, target.flow, this.#statelessBranch(ack), flow);
    this.#o.transport.send(target.flow, ack);
  }

  /** A response no client transaction claims: a retransmitted 2xx, forwarded back statelessly. */
  handleStrayResponse(res: SipResponse): void {
    const via = res.topVia;
    if (!via || res.status < 200 || res.status >= 300 || res.cseq.method !== 'INVITE') return;
    if (!this.#o.domain.isLocalHost(via.host, via.port)) return;
    const pf = via.params.get('pf');
    if (!pf) return;
    const [flowB64, mac] = pf.split('.');
    const flowId = Buffer.from(flowB64 ?? '', 'base64url').toString('utf8');
    if (!mac || !this.#o.tokens.verifyFlow(flowId, mac)) return;
    res.shift('via');
    const next = res.topVia;
    if (!next) return;
    const flow = this.#o.transport.responseFlow(next, this.#o.transport.getFlow(flowId));
    if (flow) this.#o.transport.send(flow, res);
  }

  // ---- out-of-dialog -------------------------------------------------------------------

  async #authenticate(req: SipRequest, st: ServerTransaction): Promise<string | undefined> {
    const auth = await this.#o.authenticator.authenticate(req, 'proxy', st.flow.remoteAddress);
    if (!auth.ok) {
      if (auth.reason === 'missing' || auth.reason === 'stale' || auth.reason === 'malformed') {
        st.respond(this.#o.authenticator.challenge(req, 'proxy', auth.stale, st.flow.protocol));
      } else {
        this.#log.info({ method: req.method, ip: st.flow.remoteAddress, reason: auth.reason }, 'SIP request refused: authentication failed');
        st.respond(createResponse(req, 403, refusal(auth)));
      }
      return undefined;
    }
    const username = auth.username.toLowerCase();
    // No spoofing: the From must be the authenticated user's own address.
    const from = req.from.uri;
    if (!(from instanceof SipUri) || (from.userUnescaped ?? '').toLowerCase() !== username || !this.#o.domain.isLocalDomain(from.host)) {
      st.respond(createResponse(req, 403, { reason: 'From Does Not Match Credentials' }));
      return undefined;
    }
    return username;
  }

  async #fork(
    req: SipRequest,
    st: ServerTransaction,
    caller: string,
    maxForwards: number,
    bindings: Binding[],
    hash: string,
    offer: OfferMedia | undefined,
  ): Promise<void> {
    if (st.isInvite) st.respond(createResponse(req, 100));
    // Our credentials stop here; the identity the callee sees is the one we vouch for.
    req.remove('proxy-authorization');
    req.remove('p-asserted-identity');
    const account = await this.#o.accounts.get(caller);
    req.append(
      'p-asserted-identity',
      `${quote(account?.displayName ?? caller)} <sip:${caller}@${this.#o.domain.name}>`,
    );
    req.set('max-forwards', String(maxForwards - 1));

    const ctx = new ResponseContext(
      st,
      req,
      {
        final: (res, branch) => this.#onFinal(req, st, res, branch),
        forwardStateless: (res) => {
          const flow = this.#o.transport.responseFlow(res.topVia!, st.flow);
          if (flow) this.#o.transport.send(flow, res);
        },
        done: () => {
          this.#contexts.delete(st.key);
          ctx.dispose();
        },
      },
      this.#o.inviteTimeoutSeconds * 1000,
    );
    this.#contexts.set(st.key, ctx);

    const callerAor = `${caller}@${this.#o.domain.name}`;
    let started = 0;
    /** Why a device was not tried for its media: the answer when no device could be. */
    let refusal: { status: 488 | 503; why: string } | undefined;
    for (const binding of bindings) {
      const plan = this.#media.plan(offer, binding);
      if (plan.kind === 'refuse') {
        refusal = plan;
        continue;
      }
      const reach = await this.#reach(binding, callerAor);
      if (!reach) continue;
      const { flow } = reach;
      const copy = req.clone();
      const viaBranch = loopBranch(hash);
      if (plan.kind === 'bridge') {
        try {
          copy.body = await this.#media.offerToFork(req, viaBranch, plan.to, offer!, st.flow);
        } catch (err) {
          this.#log.warn({ callId: req.callId, err: (err as Error).message }, 'media bridge: offer failed');
          refusal = { status: 503, why: 'The media bridge (rtpengine) does not answer' };
          continue;
        }
        this.#media.forkFlow(req.callId, flow.id);
      }
      copy.uri = binding.contact;
      for (const p of [...binding.path].reverse()) copy.prepend('route', p);
      if (reach.relayRoute) copy.prepend('route', reach.relayRoute);
      if (DIALOG_CREATING.has(req.method)) {
        this.#recordRoute(copy, { flowA: st.flow.id, aorA: callerAor, flowB: reach.tokenFlowId, aorB: binding.aor }, st.flow.protocol, flow.protocol, req.parsedUri instanceof SipUri && req.parsedUri.scheme === 'sips');
      }
      this.#prepareForward(copy, flow, viaBranch, st.flow);
      const bridged = plan.kind === 'bridge';
      const branch: Branch = {
        flowId: flow.id,
        tx: this.#o.transactions.sendRequest(copy, flow, {
          onResponse: (res, _tx, synthetic) =>
            bridged && !synthetic ? this.#onBridgedResponse(ctx, branch, res, viaBranch) : this.#onBranchResponse(ctx, branch, res, synthetic ?? false),
        }),
      };
      ctx.addBranch(branch);
      started++;
    }
    if (!started) {
      this.#contexts.delete(st.key);
      const status = refusal?.status ?? 480;
      if (st.isInvite) this.#o.callLog.finalResponse(req.callId, status, []);
      if (refusal) this.#media.counts.refused++;
      // RFC 3261 §20.43: Warning 399 carries the reason a person can read.
      st.respond(createResponse(req, status, refusal && { headers: [['Warning', `399 ${this.#host} "${refusal.why}"`]] }));
      return;
    }
    ctx.startTimerC();
  }

  #onBranchResponse(ctx: ResponseContext, branch: Branch, res: SipResponse, synthetic: boolean): void {
    if (synthetic) {
      // A timeout or transport failure: answer as the proxy, in the server transaction's terms.
      const status = res.status === 503 ? 480 : res.status;
      ctx.onResponse(branch, createResponse(ctx.request, status), true);
      return;
    }
    res.shift('via');
    if (!res.topVia) return;
    ctx.onResponse(branch, res, false);
  }

  /**
   * A response from a fork whose media goes through the bridge: its answer is rewritten for
   * the caller first.
   */
  #onBridgedResponse(ctx: ResponseContext, branch: Branch, res: SipResponse, viaBranch: string): void {
    this.#inOrder(branch, async () => {
      await this.#media.answerFromFork(res, viaBranch);
      this.#onBranchResponse(ctx, branch, res, false);
    });
  }

  readonly #bridgedQueue = new WeakMap<Branch, Promise<void>>();

  /** Handles a branch's responses one after the other (a 183 with its answer, then the 200), as bridge rewrites take time. */
  #inOrder(branch: Branch, work: () => Promise<void>): void {
    const next = (this.#bridgedQueue.get(branch) ?? Promise.resolve()).then(work).catch((err) => this.#log.error({ err }, 'SIP bridged response handling failed'));
    this.#bridgedQueue.set(branch, next);
  }

  #onFinal(req: SipRequest, st: ServerTransaction, res: SipResponse, branch: Branch | undefined): void {
    if (!st.isInvite) return;
    this.#media.inviteFinal(req.callId, res.status);
    const flows = branch ? [st.flow.id, branch.flowId] : [];
    this.#o.callLog.finalResponse(req.callId, res.status, flows);
  }

  #handleCancel(cancel: SipRequest, st: ServerTransaction): void {
    const invite = this.#o.transactions.findInviteFor(cancel);
    if (!invite) {
      st.respond(createResponse(cancel, 481));
      return;
    }
    st.respond(createResponse(cancel, 200));
    const ctx = this.#contexts.get(invite.key);
    if (ctx) ctx.cancel(cancel.get('reason'));
    else if (!invite.isFinal) invite.respond(createResponse(invite.request, 487));
  }

  #answerOptions(req: SipRequest, st: ServerTransaction): void {
    // Here the gateway is the UAS: it must honour Require (RFC 3261 §8.2.2.3).
    const unsupported = req.list('require').filter((tag) => !SERVER_EXTENSIONS.has(tag.toLowerCase()));
    if (unsupported.length) {
      st.respond(createResponse(req, 420, { headers: [['Unsupported', unsupported.join(', ')]] }));
      return;
    }
    st.respond(
      createResponse(req, 200, {
        headers: [
          ['Allow', ALLOWED_METHODS],
          ['Accept', 'application/sdp'],
          ['Supported', [...SERVER_EXTENSIONS].join(', ')],
        ],
      }),
    );
  }

  // ---- in-dialog -----------------------------------------------------------------------

  async #forwardInDialog(req: SipRequest, st: ServerTransaction, route: OurRoute, hash: string): Promise<void> {
    const target = await this.#dialogTarget(req, route);
    if (target === 'forged') {
      st.respond(createResponse(req, 403, { reason: 'Bad Route' }));
      return;
    }
    if (target === 'gone') {
      // RFC 5626 §5.3: the flow to the other party failed.
      st.respond(createResponse(req, 430));
      return;
    }
    if (req.method === 'BYE') {
      this.#o.callLog.ended(req.callId);
      this.#media.ended(req.callId);
    }
    const bridged = this.#media.isBridged(req.callId) && (req.method === 'INVITE' || req.method === 'UPDATE');
    if (bridged) {
      try {
        await this.#media.inDialogOffer(req);
      } catch (err) {
        this.#log.warn({ callId: req.callId, err: (err as Error).message }, 'media bridge: in-dialog offer failed');
        st.respond(createResponse(req, 503, { headers: [['Warning', `399 ${this.#host} "The media bridge (rtpengine) does not answer"`]] }));
        return;
      }
    }
    const mf = Number(req.get('max-forwards') ?? 70);
    req.set('max-forwards', String(mf - 1));
    this.#prepareForward(req, target.flow, loopBranch(hash), st.flow);
    this.#forwardStateful(req, st, target.flow, bridged);
  }

  /**
   * A request another gateway node handed over for a binding whose flow this node holds: the
   * other node authenticated the caller; the signed, short-lived relay Route is the proof.
   */
  async #relayFromNode(req: SipRequest, st: ServerTransaction, token: string, maxForwards: number, hash: string): Promise<void> {
    const relay = this.#o.tokens.decodeRelay(token);
    if (!relay) {
      st.respond(createResponse(req, 403, { reason: 'Bad Route' }));
      return;
    }
    this.nodeRelays.received++;
    const self = this.#o.nodes?.nodeId;
    const binding = (await this.#o.locations.list(relay.aor)).find((b) => bindingKey(b) === relay.bindingKey && (b.node ?? self) === self);
    const flow = binding && (await this.#flowForBinding(binding));
    if (!flow) {
      st.respond(createResponse(req, 480));
      return;
    }
    if (st.isInvite) st.respond(createResponse(req, 100));
    if (DIALOG_CREATING.has(req.method)) {
      this.#recordRoute(req, { flowA: `${NODE_FLOW}${relay.fromNode}`, aorA: relay.callerAor, flowB: flow.id, aorB: relay.aor }, 'tcp', flow.protocol);
    }
    req.set('max-forwards', String(maxForwards - 1));
    this.#prepareForward(req, flow, loopBranch(hash), st.flow);
    this.#forwardStateful(req, st, flow);
  }

  /** Sends one request on to one flow, its responses relayed back through a response context. */
  #forwardStateful(req: SipRequest, st: ServerTransaction, flow: Flow, bridged = false): void {
    const ctx = new ResponseContext(
      st,
      req,
      {
        final: () => {},
        forwardStateless: (res) => {
          const back = this.#o.transport.responseFlow(res.topVia!, st.flow);
          if (back) this.#o.transport.send(back, res);
        },
        done: () => {
          this.#contexts.delete(st.key);
          ctx.dispose();
        },
      },
      this.#o.inviteTimeoutSeconds * 1000,
    );
    this.#contexts.set(st.key, ctx);
    const branch: Branch = {
      flowId: flow.id,
      tx: this.#o.transactions.sendRequest(req, flow, {
        onResponse: (res, _tx, synthetic) => {
          if (!bridged || synthetic) return this.#onBranchResponse(ctx, branch, res, synthetic ?? false);
          // The answer to a bridged re-INVITE or UPDATE, rewritten for its offerer.
          this.#inOrder(branch, async () => {
            await this.#media.inDialogAnswer(res).catch((err) => this.#log.warn({ callId: res.callId, err: (err as Error).message }, 'media bridge: in-dialog answer failed'));
            this.#onBranchResponse(ctx, branch, res, false);
          });
        },
      }),
    };
    ctx.addBranch(branch);
  }

  /** Which flow an in-dialog request goes to, from our signed Record-Route token. */
  async #dialogTarget(req: SipRequest, route: OurRoute): Promise<{ flow: Flow } | 'forged' | 'gone'> {
    const dialog = route.token ? this.#o.tokens.decode(route.token) : undefined;
    if (!dialog || (route.side !== 'a' && route.side !== 'b')) return 'forged';
    const [flowId, aor] = route.side === 'a' ? [dialog.flowB, dialog.aorB] : [dialog.flowA, dialog.aorA];
    if (flowId.startsWith(NODE_FLOW)) {
      // The other party is reached through another gateway node, which holds its flow.
      const address = this.#o.nodes?.address(flowId.slice(NODE_FLOW.length));
      const flow = address && (await this.#o.transport.flowTo('tcp', address.host, address.port));
      return flow ? { flow } : 'gone';
    }
    const flow = this.#o.transport.getFlow(flowId);
    if (flow && !flow.closed) return { flow };
    // The connection is gone; if the device re-registered the same contact here, use its new flow.
    const contact = req.uri.toLowerCase();
    const self = this.#o.nodes?.nodeId;
    for (const b of await this.#o.locations.list(aor)) {
      if (b.contact.toLowerCase() === contact && (b.node ?? self) === self) {
        const f = await this.#flowForBinding(b);
        if (f) return { flow: f };
      }
    }
    return 'gone';
  }

  // ---- helpers -------------------------------------------------------------------------

  #isForUs(req: SipRequest): boolean {
    const uri = req.parsedUri;
    return uri instanceof SipUri && !uri.user && this.#o.domain.isLocalHost(uri.host, uri.port);
  }

  /** Pops the Routes that name this proxy; returns the token of the first one, if any. */
  #popOurRoutes(req: SipRequest): OurRoute | undefined {
    let found: OurRoute | undefined;
    for (;;) {
      let top: NameAddr | undefined;
      try {
        top = req.routes[0];
      } catch {
        return found;
      }
      if (!top || !(top.uri instanceof SipUri) || !this.#o.domain.isLocalHost(top.uri.host, top.uri.port)) return found;
      const token = top.uri.params.get('r');
      const relay = top.uri.params.get('nf');
      if (!token && !relay && !top.uri.params.has('lr')) return found;
      req.shift('route');
      if (!found && token) found = { token, side: top.uri.params.get('s') ?? '' };
      else if (!found && relay) found = { relay, side: '' };
    }
  }

  #recordRoute(req: SipRequest, dialog: DialogRoute, callerTransport: TransportProtocol, calleeTransport: TransportProtocol, sips = false): void {
    const token = this.#o.tokens.encode(dialog);
    // Double Record-Route (RFC 5658): the bottom entry faces the caller, the top one the callee.
    req.prepend('record-route', `<${this.#routeUri(callerTransport, dialog.flowA, sips)};r=${token};s=a>`);
    req.prepend('record-route', `<${this.#routeUri(calleeTransport, dialog.flowB, sips)};r=${token};s=b>`);
  }

  /**
   * Our URI as the party on `flowId` must address us: another node uses our node-to-node
   * listener; for a sips: request, a sips: URI on TLS (RFC 3261 §16.6 step 4, RFC 5630).
   */
  #routeUri(transport: TransportProtocol, flowId = '', sips = false): string {
    const self = this.#o.nodes?.self;
    if (self && flowId.startsWith(NODE_FLOW)) return `sip:${self.host}:${self.port};transport=tcp;lr`;
    if (transport === 'ws' || transport === 'wss') return `sip:${this.#host};transport=${transport};lr`;
    if (transport === 'tls') return sips ? `sips:${this.#host}:${this.#o.domain.tlsPort};lr` : `sip:${this.#host}:${this.#o.domain.tlsPort};transport=tls;lr`;
    return `sip:${this.#host}:${this.#port}${transport === 'tcp' ? ';transport=tcp' : ''};lr`;
  }

  /** Adds our Via (with the signed upstream flow, for stateless 2xx retransmissions). */
  #prepareForward(req: SipRequest, flow: Flow, branch: string, upstream: Flow): void {
    const mac = this.#o.tokens.signFlow(upstream.id);
    const pf = `${Buffer.from(upstream.id).toString('base64url')}.${mac}`;
    const sentBy = flow.protocol === 'ws' || flow.protocol === 'wss' ? this.#host : `${this.#host}:${flow.protocol === 'tls' ? this.#o.domain.tlsPort : this.#port}`;
    req.prepend('via', `SIP/2.0/${flow.protocol.toUpperCase()} ${sentBy};branch=${branch};pf=${pf};rport`);
  }

  #statelessBranch(ack: SipRequest): string {
    const h = crypto.hash('sha1', `${ack.topVia?.branch ?? ''}\0${ack.callId}`, 'base64url');
    return `z9hG4bKA${h.slice(0, 16)}`;
  }

  #isLoop(req: SipRequest, hash: string): boolean {
    if (req.method === 'ACK' || req.method === 'CANCEL') return false;
    for (const raw of req.list('via').slice(1)) {
      let via;
      try {
        via = parseVia(raw);
      } catch {
        continue;
      }
      const branch = via.branch;
      if (!branch?.startsWith(LOOP_PREFIX) || !this.#o.domain.isLocalHost(via.host, via.port)) continue;
      if (branch.slice(LOOP_PREFIX.length, LOOP_PREFIX.length + hash.length) === hash) return true;
    }
    return false;
  }

  /**
   * How to reach a binding: over its own flow when this node holds it, else through the node
   * that does (a TCP flow to that node and a relay Route on top), or not at all when it is gone.
   */
  async #reach(b: Binding, callerAor: string): Promise<{ flow: Flow; tokenFlowId: string; relayRoute?: string } | undefined> {
    const nodes = this.#o.nodes;
    if (nodes && b.node && b.node !== nodes.nodeId) {
      const address = nodes.address(b.node);
      const flow = address && (await this.#o.transport.flowTo('tcp', address.host, address.port));
      if (!flow) return undefined;
      this.nodeRelays.sent++;
      const relay = this.#o.tokens.encodeRelay({
        fromNode: nodes.nodeId,
        callerAor,
        aor: b.aor,
        bindingKey: bindingKey(b),
        expiresAt: Date.now() + RELAY_TTL_MS,
      });
      return { flow, tokenFlowId: `${NODE_FLOW}${b.node}`, relayRoute: `<sip:${address!.host}:${address!.port};transport=tcp;lr;nf=${relay}>` };
    }
    const flow = await this.#flowForBinding(b);
    return flow && { flow, tokenFlowId: flow.id };
  }

  async #flowForBinding(b: Binding): Promise<Flow | undefined> {
    if (b.transport !== 'udp') {
      const f = this.#o.transport.getFlow(b.flowId);
      if (f && !f.closed) return f;
      if (b.transport !== 'tcp') return undefined; // a browser can only be reached over its own socket
    }
    let uri;
    try {
      uri = parseUri(b.contact);
    } catch {
      return undefined;
    }
    if (!(uri instanceof SipUri)) return undefined;
    const host = uri.host.replace(/^\[|\]$/g, '');
    const usable = /^[\d.]+$/.test(host) || host.includes(':') || host === 'localhost';
    // Behind NAT or with an unresolvable contact, reach the device where its REGISTER came from.
    if (!usable || uri.params.has('ob')) {
      return b.transport === 'udp' ? this.#o.transport.udpFlow(b.sourceAddress, b.sourcePort) : undefined;
    }
    const protocol = uri.transportParam === 'tcp' ? 'tcp' : 'udp';
    return this.#o.transport.flowTo(protocol, host === 'localhost' ? '127.0.0.1' : host, uri.port ?? 5060);
  }
}

interface OurRoute {
  /** A dialog's route token (r=), naming both of its flows. */
  token?: string;
  side: string;
  /** A node-to-node relay (nf=) for an out-of-dialog request. */
  relay?: string;
}

/** RFC 3261 §16.6 step 8: a branch whose first part hashes the request, for loop detection. */
function loopBranch(hash: string): string {
  return `${LOOP_PREFIX}${hash}.${newBranch().slice(7, 17)}`;
}

/** Hash of what identifies a request as it arrived (§16.3 step 4). */
function loopHash(req: SipRequest): string {
  let fromTag = '';
  let toTag = '';
  try {
    fromTag = req.from.tag ?? '';
    toTag = req.to.tag ?? '';
  } catch {
    // unparsable tags hash as empty
  }
  return crypto
    .hash('sha1', `${req.uri}\0${fromTag}\0${toTag}\0${req.callId}\0${req.cseq.seq}\0${req.list('route').join(',')}`, 'base64url')
    .slice(0, 12)
    .replace(/[-_]/g, 'x');
}

/** The Accept or Accept-Encoding header a 415 needs when a call's body is not plain SDP, else undefined. */
function unsupportedCallBody(req: SipRequest): [string, string] | undefined {
  const encoding = (req.get('content-encoding') ?? 'identity').trim().toLowerCase();
  if (encoding !== 'identity') return ['Accept-Encoding', 'identity'];
  if (!req.body.length) return undefined;
  const type = (req.get('content-type') ?? '').split(';', 1)[0].trim().toLowerCase();
  return type === 'application/sdp' ? undefined : ['Accept', 'application/sdp'];
}
