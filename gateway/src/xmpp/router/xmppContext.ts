/**
 * What the XMPP services (roster, presence, messages, group chat, upload …) need from the
 * server hub: the domain names and the sessions that are connected.
 */
import type { Logger } from '../../../../server-common/logger.js';
import type { C2SSession } from '../session/c2sSession.js';

export interface XmppContext {
  readonly domain: string;
  /** Group chat service (XEP-0045), `conference.<domain>`. */
  readonly mucDomain: string;
  readonly logger: Logger;
  /** Bound sessions of a user (including hibernating ones awaiting resumption). */
  sessionsOf(username: string): C2SSession[];
  sessionByJid(fullJid: string): C2SSession | undefined;
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
