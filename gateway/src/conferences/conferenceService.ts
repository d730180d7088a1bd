/**
 * Meetings: starting them, who may join which meeting and as what, ad-hoc creation, pinning a
 * meeting to an SFU node through the conference registry, and the join token that admits one
 * person to one meeting on that node. Every entry point — the REST API for browsers and
 * widgets today, a SIP call to a meeting next — admits people through `admit()`, so the rules
 * are the same whichever way someone arrives.
 *
 * The service speaks its own terms (ConferenceError codes); each entry point turns them into
 * its protocol's answers (HTTP 4xx/503, SIP 403/404/503 …).
 */
import crypto from 'node:crypto';
import { MEETING_NAME_RULE, toMeetingName } from '../../../contracts/meetings/meetingName.js';
import type { GuestAccess } from '../../../contracts/rest/conferences.js';
import type { ParticipantRole } from '../../../contracts/sfu/signalling.js';
import { issueJoinToken } from '../../../server-common/joinToken.js';
import type { Logger } from '../../../server-common/logger.js';
import { NoSfuNodeAvailableError, type ConferenceRegistry } from '../../../sfu/src/registry/index.js';
import type { AccountStore } from '../directory/accountStore.js';
import { checkEmbedKey } from '../embed/embedKeys.js';
import type { Conference, ConferenceRecords } from '../storage/records/conferenceRecords.js';
import type { EmbedKeyRecords } from '../storage/records/embedKeyRecords.js';
import { randomConferenceName } from './conferenceNames.js';
import { issueGuestLink, verifyGuestLink } from './guestLinks.js';

export interface ConferenceServiceOptions {
  accounts: AccountStore;
  store: ConferenceRecords;
  registry: ConferenceRegistry;
  domain: string;
  /** Signs join tokens; SFU nodes verify with the same key. */
  joinTokenKey: Uint8Array;
  joinTokenSeconds: number;
  guestLinkKey: Uint8Array;
  /** Longest (and default) guest-link lifetime. */
  guestLinkHours: number;
  /** Verifies the embed keys `parley embed-key` issues. */
  embedKeyKey: Uint8Array;
  /** Which embed keys were issued and which are revoked. */
  embedKeys: EmbedKeyRecords;
  /** Origins allowed to frame Parley (PARLEY_EMBED_ORIGINS); an embed key counts only on these. */
  embedOrigins: readonly string[];
  /** Meetings one account may start per hour. */
  createPerHour: number;
  logger: Logger;
}

/** Someone who wants into a meeting. */
export type Visitor =
  | { kind: 'account'; username: string }
  /** No account: admitted by a guest link or a site's embed key. */
  | { kind: 'guest'; access: GuestAccess; displayName?: string };

export type ConferenceErrorCode =
  | 'invalid_name'
  | 'name_required'
  | 'not_signed_in'
  | 'invalid_guest_link'
  | 'invalid_embed_key'
  | 'not_owner'
  | 'no_such_meeting'
  | 'too_many_meetings'
  | 'no_free_name'
  | 'no_conference_server'
  | 'registry_unavailable';

export class ConferenceError extends Error {
  constructor(
    readonly code: ConferenceErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ConferenceError';
  }
}

/** What the pre-join screen shows a visitor. */
export interface ConferencePreview {
  name: string;
  conference: Conference | undefined;
  owner: { username: string; displayName: string } | null;
  role: ParticipantRole;
  /** Guests: when what admits them expires (epoch ms). */
  accessExpiresAt?: number;
}

/** A visitor let in: where the meeting runs and the token that admits them there. */
export interface Admission {
  conference: Conference;
  node: { id: string; url: string };
  token: string;
  expiresIn: number;
  participant: { userId: string; displayName: string; role: ParticipantRole };
}

/** Owner recorded for a meeting that a site's embed key opened before anyone signed in started it. */
const EMBED_OWNER = '(embedded)';

export class ConferenceService {
  readonly #o: ConferenceServiceOptions;

  constructor(options: ConferenceServiceOptions) {
    this.#o = options;
  }

  /** The canonical meeting name, or an invalid_name error. */
  meetingName(input: string): string {
    const name = toMeetingName(input);
    if (!name) throw new ConferenceError('invalid_name', MEETING_NAME_RULE);
    return name;
  }

  /** Starts a meeting under a fresh, unguessable name. */
  async start(owner: string, title?: string): Promise<Conference> {
    const o = this.#o;
    if ((await o.store.countCreatedSince(owner, Date.now() - 3600_000)) >= o.createPerHour) {
      throw new ConferenceError('too_many_meetings', 'You started many meetings in the last hour; reuse one of them.');
    }
    const account = await o.accounts.get(owner);
    const chosenTitle = title || defaultTitle(account?.displayName ?? owner);
    for (let i = 0; i < 5; i++) {
      const created = await o.store.create(randomConferenceName(), owner, chosenTitle);
      if (created) return created;
    }
    throw new ConferenceError('no_free_name', 'Could not find a free meeting name; try again.');
  }

  ownedBy(owner: string): Promise<Conference[]> {
    return this.#o.store.ownedBy(owner);
  }

  /** What a visitor sees before joining; guests must already hold a valid link or key. */
  async preview(input: string, visitor: Visitor): Promise<ConferencePreview> {
    const name = this.meetingName(input);
    const conference = await this.#o.store.get(name);
    const owner = conference ? await this.#ownerOf(conference) : null;
    if (visitor.kind === 'account') {
      // A name nobody used yet is a meeting the visitor would start (ad hoc, as in Jitsi).
      const role = !conference || conference.owner === visitor.username ? 'owner' : 'member';
      return { name, conference, owner, role };
    }
    const access = await this.#checkGuestAccess(visitor.access, name);
    if (!conference && access.via === 'link') throw new ConferenceError('no_such_meeting', 'This meeting does not exist any more.');
    return { name, conference, owner, role: 'guest', accessExpiresAt: access.expiresAt };
  }

  /** A link for people without an account; only the meeting's owner may make one. */
  async guestLink(owner: string, input: string, hours?: number): Promise<{ name: string; token: string; expiresAt: number }> {
    const name = this.meetingName(input);
    const conference = await this.#o.store.get(name);
    if (!conference) throw new ConferenceError('no_such_meeting', 'No meeting by that name');
    if (conference.owner !== owner) {
      throw new ConferenceError('not_owner', 'Only the person who started this meeting can invite guests');
    }
    const limit = this.#o.guestLinkHours;
    const link = await issueGuestLink({ conference: name, createdBy: owner }, this.#o.guestLinkKey, Math.min(hours ?? limit, limit) * 3600);
    return { name, ...link };
  }

  /**
   * Lets a visitor into a meeting: decides their identity and role, starts the meeting if it
   * may be started ad hoc, pins it to an SFU node (the least-loaded live one, if it has none)
   * and issues the join token for that node.
   */
  async admit(input: string, visitor: Visitor): Promise<Admission> {
    const o = this.#o;
    const name = this.meetingName(input);
    let conference: Conference;
    let participant: Admission['participant'];
    if (visitor.kind === 'account') {
      const account = await o.accounts.get(visitor.username);
      if (!account) throw new ConferenceError('not_signed_in', 'Sign in first');
      // Joining a meeting name nobody used yet starts it (ad hoc meetings, as in Jitsi).
      conference = await o.store.ensure(name, account.username, defaultTitle(account.displayName));
      participant = {
        userId: `${account.username}@${o.domain}`,
        displayName: account.displayName,
        role: conference.owner === account.username ? 'owner' : 'member',
      };
    } else {
      const access = await this.#checkGuestAccess(visitor.access, name);
      // A site's embed key may open its meeting before anyone signed in has started it.
      const found = access.via === 'embed' ? await o.store.ensure(name, EMBED_OWNER, name) : await o.store.get(name);
      if (!found) throw new ConferenceError('no_such_meeting', 'This meeting does not exist any more.');
      const displayName = visitor.displayName?.trim();
      if (!displayName) throw new ConferenceError('name_required', 'Type your name so others know who joined');
      conference = found;
      participant = { userId: `guest:${crypto.randomUUID()}`, displayName, role: 'guest' };
    }

    const node = await this.#pin(conference.name);
    const token = await issueJoinToken(
      { conference: conference.name, nodeId: node.id, ...participant },
      o.joinTokenKey,
      o.joinTokenSeconds,
    );
    return { conference, node, token, expiresIn: o.joinTokenSeconds, participant };
  }

  async #pin(name: string): Promise<{ id: string; url: string }> {
    try {
      const { node } = await this.#o.registry.pin(name);
      return { id: node.id, url: node.url };
    } catch (err) {
      if (err instanceof NoSfuNodeAvailableError) {
        throw new ConferenceError('no_conference_server', `${err.message}. Try again in a minute.`);
      }
      this.#o.logger.error({ err: (err as Error).message }, 'conference registry unavailable');
      throw new ConferenceError('registry_unavailable', 'Meetings are unavailable right now. Try again in a minute.');
    }
  }

  async #ownerOf(conference: Conference): Promise<{ username: string; displayName: string }> {
    const account = await this.#o.accounts.get(conference.owner);
    return { username: conference.owner, displayName: account?.displayName ?? conference.owner };
  }

  /** A guest link for this meeting, or a site's embed key honoured for this meeting and page origin. */
  async #checkGuestAccess(access: GuestAccess, name: string): Promise<{ via: 'link' | 'embed'; expiresAt: number }> {
    if (access.guestToken) {
      const result = await verifyGuestLink(access.guestToken, this.#o.guestLinkKey);
      if (!result.ok) throw new ConferenceError('invalid_guest_link', result.reason);
      if (result.claims.conference !== name) {
        throw new ConferenceError('invalid_guest_link', 'This guest link is for another meeting.');
      }
      return { via: 'link', expiresAt: result.claims.expiresAt };
    }
    if (access.embedKey) {
      const result = await checkEmbedKey(access.embedKey, this.#o.embedKeyKey, {
        room: name,
        origin: access.embedOrigin,
        allowedOrigins: this.#o.embedOrigins,
      });
      if (!result.ok) throw new ConferenceError('invalid_embed_key', result.reason);
      if (result.claims.id !== undefined) {
        const record = await this.#o.embedKeys.get(result.claims.id);
        if (!record || record.revokedAt !== undefined) {
          throw new ConferenceError('invalid_embed_key', 'This site’s embed key was withdrawn; the site needs a new one.');
        }
      }
      return { via: 'embed', expiresAt: result.claims.expiresAt };
    }
    throw new ConferenceError('not_signed_in', 'Sign in, or open the guest link the organiser sent you');
  }
}

function defaultTitle(displayName: string): string {
  return `${displayName}’s meeting`;
}
