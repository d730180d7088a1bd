/**
 * A session bound on another gateway node, as this node's services see it: what that node last
 * told us (state; presence and carbons live in their services' mirrors), and a `send` that
 * carries the stanza there.
 */
import type { Element } from 'ltx';
import { AckHolds } from '../session/ackHolds.js';
import type { SessionRef } from '../router/xmppContext.js';

export interface RemoteSessionLink {
  sendStanza(session: RemoteSession, stanza: Element): void;
  endHibernation(session: RemoteSession): void;
}

export class RemoteSession implements SessionRef {
  readonly username: string;
  readonly bareJid: string;
  state: 'bound' | 'hibernating' = 'bound';
  /** Writes the stanza being handled here (forwarded from its node) must wait for. */
  readonly #holds = new AckHolds();

  constructor(
    readonly node: string,
    readonly fullJid: string,
    private readonly link: RemoteSessionLink,
  ) {
    const slash = fullJid.indexOf('/');
    this.bareJid = slash >= 0 ? fullJid.slice(0, slash) : fullJid;
    this.username = this.bareJid.slice(0, this.bareJid.indexOf('@'));
  }

  get isActive(): boolean {
    return this.state === 'bound';
  }

  send(stanza: Element): void {
    this.link.sendStanza(this, stanza);
  }

  holdAck(write: Promise<unknown>): void {
    this.#holds.add(write);
  }

  /** Runs a handler for a stanza this session's node forwarded; returns the writes it held. */
  collectHolds(handle: () => void | Promise<void>): ReturnType<AckHolds['collect']> {
    return this.#holds.collect(handle);
  }

  endHibernation(): void {
    if (this.state === 'hibernating') this.link.endHibernation(this);
  }
}
