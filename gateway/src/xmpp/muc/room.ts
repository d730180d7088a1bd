/** A group chat room (XEP-0045): configuration, affiliations, occupants, recent history. */
import type { Element } from 'ltx';
import type { SessionRef } from '../router/xmppContext.js';

export type Affiliation = 'owner' | 'admin' | 'member' | 'outcast' | 'none';
export type Role = 'moderator' | 'participant' | 'visitor' | 'none';

export interface RoomConfig {
  name?: string;
  /** Survives when the last occupant leaves (and server restarts). */
  persistent: boolean;
  /** Only members (and admins/owners) may join; an invitation makes the invitee a member. */
  membersOnly: boolean;
  /** Listed in the room directory (disco#items on the service). */
  public: boolean;
}

export interface Occupant {
  nick: string;
  session: SessionRef;
  role: Role;
  affiliation: Affiliation;
  /** The occupant's last presence to the room, without addressing. */
  presence: Element;
}

export const DEFAULT_CONFIG: RoomConfig = { persistent: false, membersOnly: false, public: true };

export class Room {
  readonly occupants = new Map<string, Occupant>();
  /** Real full JID → nick. */
  readonly nickOf = new Map<string, string>();
  /** Recent groupchat messages (with delay and stanza-id), served to people who join. */
  history: Element[] = [];
  subject: { text: string; from: string } | undefined;

  constructor(
    readonly jid: string,
    public config: RoomConfig,
    readonly affiliations: Map<string, Affiliation>,
  ) {}

  affiliationOf(bare: string): Affiliation {
    return this.affiliations.get(bare) ?? 'none';
  }

  roleFor(affiliation: Affiliation): Role {
    return affiliation === 'owner' || affiliation === 'admin' ? 'moderator' : 'participant';
  }

  occupantBySession(fullJid: string): Occupant | undefined {
    const nick = this.nickOf.get(fullJid);
    return nick === undefined ? undefined : this.occupants.get(nick);
  }

  get isEmpty(): boolean {
    return this.occupants.size === 0;
  }
}
