/**
 * Where Parley's XMPP services live, under the one domain that names users
 * (PARLEY_DOMAIN): group chats (XEP-0045) on conference.<domain>, file uploads (XEP-0363) on
 * upload.<domain>. Standard clients find both through service discovery; Parley's own client
 * and server use these functions.
 */

export function groupChatDomain(domain: string): string {
  return `conference.${domain}`;
}

export function uploadDomain(domain: string): string {
  return `upload.${domain}`;
}

/** Whether a bare JID is a group chat room (of any Parley server). */
export function isGroupChatJid(jid: string): boolean {
  return jid.split('@')[1]?.startsWith('conference.') ?? false;
}

