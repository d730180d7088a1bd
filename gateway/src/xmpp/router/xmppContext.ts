/**
 * What the XMPP services (roster, presence, messages, group chat, upload …) need from the
 * server hub: the domain names and the sessions that are connected — on this gateway node, and
 * (several nodes) on the others.
 */
import type { Element } from 'ltx';
import type { Logger } from '../../../../server-common/logger.js';
import type { C2SSession } from '../session/c2sSession.js';

/**
 * A bound session as the services address it: a C2SSession on this node, or a RemoteSession
 * standing for one on another node (its stanzas travel there; its presence is mirrored here).
 */
export interface SessionRef {
  readonly username: string | undefined;
  readonly fullJid: string;
  readonly bareJid: string;
  /** Bound and connected (not hibernating). */
  readonly isActive: boolean;
  readonly state: string;
  /** The gateway node holding the connection; undefined for this node's own sessions. */
  readonly node?: string;
  send(stanza: Element): void;
  /**
   * The stanza being handled counts as received (XEP-0198 ack) only once `write` commits; for a
   * session on another node, that node's ack waits for the answer from here.
   */
  holdAck(write: Promise<unknown>): void;
  /** Ends the session if it waits for resumption (its user is back on another connection). */
  endHibernation(): void;
}

export interface XmppContext {
  readonly domain: string;
  /** Group chat service (XEP-0045), `conference.<domain>`. */
  readonly mucDomain: string;
  readonly logger: Logger;
  /** Bound sessions of a user on every node (including hibernating ones awaiting resumption). */
  sessionsOf(username: string): SessionRef[];
  sessionByJid(fullJid: string): SessionRef | undefined;
  /** What other nodes know of this session (presence, carbons) has changed. */
  sessionChanged(session: C2SSession): void;
  /** Whether `local@domain` is an account here. */
  userExists(username: string): Promise<boolean>;
  /** The account's display name (for roster items that have no name yet). */
  displayName(username: string): Promise<string | undefined>;
}

/** The user part of a local bare JID, or undefined for other domains. */
export function localUser(ctx: XmppContext, bare: string): string | undefined {
  const at = bare.indexOf('@');
  if (at <= 0) return undefined;
  return bare.slice(at + 1) === ctx.domain ? bare.slice(0, at) : undefined;
}
