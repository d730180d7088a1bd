/**
 * Meetings over REST:
 *   POST /api/conferences                       start a new meeting (signed in) → its name and link
 *   GET  /api/conferences                       the meetings you started
 *   GET  /api/conferences/:name[?guest=token | ?embedKey=…&embedOrigin=…]   what the pre-join screen shows
 *   POST /api/conferences/:name/guest-links     the owner makes a link for people without an account
 *   POST /api/conferences/:name/join            → { sfuUrl, token }: the conference's pinned SFU node
 *                                               (pinned now if it has none) and a short-lived join token
 */
import crypto from 'node:crypto';
import { z } from 'zod';
import { issueJoinToken, type ParticipantRole } from '../../../../sfu/src/auth/joinToken.js';
import { NoSfuNodeAvailableError, type ConferenceRegistry } from '../../../../sfu/src/registry/conferenceRegistry.js';
import type { GatewayConfig } from '../../config.js';
import { CONFERENCE_NAME, randomConferenceName, type Conference, type ConferenceStore } from '../../conferences/conferenceStore.js';
import { issueGuestLink, verifyGuestLink } from '../../conferences/guestLinks.js';
import { checkEmbedKey } from '../../embed/embedKeys.js';
import type { AccountStore } from '../../directory/accountStore.js';
import type { Logger } from '../../util/logger.js';
import { RateLimiter } from '../../util/rateLimiter.js';
import { clientIp, HttpError, readJson, sendJson } from '../httpUtil.js';
import type { Router } from '../router.js';
import type { AuthApi } from './authApi.js';
import { iceServersFor } from './iceApi.js';

export interface ConferencesApiOptions {
  auth: AuthApi;
  accounts: AccountStore;
  store: ConferenceStore;
  registry: ConferenceRegistry;
  joinTokenKey: Uint8Array;
  guestLinkKey: Uint8Array;
  /** Verifies the embed keys `parley embed-key` issues. */
  embedKeyKey: Uint8Array;
  config: GatewayConfig;
  publicUrl: () => string;
  logger: Logger;
}

const createBody = z.object({ title: z.string().trim().max(120).optional() });
const guestLinkBody = z.object({ hours: z.number().int().min(1).optional() });
const guestAccess = {
  guestToken: z.string().max(4096).optional(),
  embedKey: z.string().max(4096).optional(),
  embedOrigin: z.string().max(300).optional(),
};
const joinBody = z.object({ ...guestAccess, displayName: z.string().trim().max(64).optional() });
type GuestAccess = { guestToken?: string; embedKey?: string; embedOrigin?: string };

/** Owner recorded for a meeting that a site's embed key opened before anyone signed in started it. */
const EMBED_OWNER = '(embedded)';

/** Joins by people without an account, per address: enough for a family behind one NAT, not for guessing. */
const GUEST_JOINS_PER_MINUTE = 30;

export function registerConferencesApi(router: Router, o: ConferencesApiOptions): void {
  const guestJoins = new RateLimiter(GUEST_JOINS_PER_MINUTE / 60, 20);

  const linkFor = (name: string, guestToken?: string) =>
    `${o.publicUrl()}/meet/${name}${guestToken ? `?guest=${encodeURIComponent(guestToken)}` : ''}`;

  const describe = (c: Conference) => ({ name: c.name, title: c.title, url: linkFor(c.name), createdAt: c.createdAt });

  const nameParam = (params: Record<string, string>): string => {
    const name = (params.name ?? '').toLowerCase();
    if (!CONFERENCE_NAME.test(name)) {
      throw new HttpError(400, 'invalid_name', 'A meeting name is 3 to 64 letters, digits and dashes');
    }
    return name;
  };

  router.add('POST', '/api/conferences', async (req, res) => {
    const me = o.auth.require(req).session.username;
    const body = await readJson(req, createBody);
    if (o.store.countCreatedSince(me, Date.now() - 3600_000) >= o.config.conferences.createPerHour) {
      throw new HttpError(429, 'too_many_meetings', 'You started many meetings in the last hour; reuse one of them.');
    }
    const account = await o.accounts.get(me);
    const title = body.title || `${account?.displayName ?? me}’s meeting`;
    let conference: Conference | undefined;
    for (let i = 0; i < 5 && !conference; i++) {
      const candidate = randomConferenceName();
      if (!o.store.get(candidate)) conference = o.store.ensure(candidate, me, title);
    }
    if (!conference) throw new HttpError(500, 'no_name', 'Could not find a free meeting name; try again.');
    sendJson(res, 201, describe(conference));
  });

  router.add('GET', '/api/conferences', (req, res) => {
    const me = o.auth.require(req).session.username;
    sendJson(res, 200, { conferences: o.store.ownedBy(me).map(describe) });
  });

  router.add('GET', '/api/conferences/:name', async (req, res, params) => {
    const name = nameParam(params);
    const signedIn = o.auth.sessionOf(req);
    const conference = o.store.get(name);
    if (signedIn) {
      const me = signedIn.session.username;
      sendJson(res, 200, {
        name,
        title: conference?.title ?? name,
        exists: conference !== undefined,
        owner: conference ? await ownerOf(conference) : null,
        you: { kind: 'account', role: conference?.owner === me ? 'owner' : conference ? 'member' : 'owner' },
      });
      return;
    }
    const query = new URL(req.url ?? '/', 'http://x').searchParams;
    const access = await checkGuestAccess(
      { guestToken: query.get('guest') ?? undefined, embedKey: query.get('embedKey') ?? undefined, embedOrigin: query.get('embedOrigin') ?? undefined },
      name,
    );
    if (!conference && access.via === 'link') throw new HttpError(404, 'no_such_meeting', 'This meeting does not exist any more.');
    sendJson(res, 200, {
      name,
      title: conference?.title ?? name,
      exists: conference !== undefined,
      owner: conference ? await ownerOf(conference) : null,
      you: { kind: 'guest', role: 'guest', linkExpiresAt: access.expiresAt },
    });
  });

  router.add('POST', '/api/conferences/:name/guest-links', async (req, res, params) => {
    const me = o.auth.require(req).session.username;
    const name = nameParam(params);
    const body = await readJson(req, guestLinkBody);
    const conference = o.store.get(name);
    if (!conference) throw new HttpError(404, 'no_such_meeting', 'No meeting by that name');
    if (conference.owner !== me) {
      throw new HttpError(403, 'not_owner', 'Only the person who started this meeting can invite guests');
    }
    const hours = Math.min(body.hours ?? o.config.conferences.guestLinkHours, o.config.conferences.guestLinkHours);
    const { token, expiresAt } = await issueGuestLink({ conference: name, createdBy: me }, o.guestLinkKey, hours * 3600);
    sendJson(res, 201, { url: linkFor(name, token), token, expiresAt });
  });

  router.add('POST', '/api/conferences/:name/join', async (req, res, params) => {
    const name = nameParam(params);
    const body = await readJson(req, joinBody);
    const signedIn = o.auth.sessionOf(req);
    let userId: string;
    let displayName: string;
    let role: ParticipantRole;
    let conference: Conference;
    if (signedIn) {
      const me = signedIn.session.username;
      const account = await o.accounts.get(me);
      if (!account) throw new HttpError(401, 'not_signed_in', 'Sign in first');
      // Joining a meeting name nobody used yet starts it (ad hoc meetings, as in Jitsi).
      conference = o.store.get(name) ?? o.store.ensure(name, me, `${account.displayName}’s meeting`);
      userId = `${me}@${o.config.domain}`;
      displayName = account.displayName;
      role = conference.owner === me ? 'owner' : 'member';
    } else {
      if (!body.guestToken && !body.embedKey) {
        throw new HttpError(401, 'not_signed_in', 'Sign in, or open the guest link the organiser sent you');
      }
      if (!guestJoins.take(clientIp(req))) {
        throw new HttpError(429, 'too_many_attempts', 'Too many attempts to join; wait a minute.', { 'Retry-After': '60' });
      }
      const access = await checkGuestAccess(body, name);
      // A site's embed key may open its meeting before anyone signed in has started it.
      const found = o.store.get(name) ?? (access.via === 'embed' ? o.store.ensure(name, EMBED_OWNER, name) : undefined);
      if (!found) throw new HttpError(404, 'no_such_meeting', 'This meeting does not exist any more.');
      if (!body.displayName) throw new HttpError(400, 'name_required', 'Type your name so others know who joined');
      conference = found;
      userId = `guest:${crypto.randomUUID()}`;
      displayName = body.displayName;
      role = 'guest';
    }

    let pinned;
    try {
      pinned = await o.registry.pin(conference.name);
    } catch (err) {
      if (err instanceof NoSfuNodeAvailableError) {
        throw new HttpError(503, 'no_conference_server', `${err.message}. Try again in a minute.`, { 'Retry-After': '5' });
      }
      o.logger.error({ err: (err as Error).message }, 'conference registry unavailable');
      throw new HttpError(503, 'registry_unavailable', 'Meetings are unavailable right now. Try again in a minute.', {
        'Retry-After': '5',
      });
    }
    const ttl = o.config.conferences.joinTokenSeconds;
    const token = await issueJoinToken(
      { conference: conference.name, nodeId: pinned.node.id, userId, displayName, role },
      o.joinTokenKey,
      ttl,
    );
    sendJson(res, 200, {
      // '' = the embedded node, on this origin: the client uses its own origin's /sfu.
      sfuUrl: pinned.node.url,
      token,
      expiresIn: ttl,
      node: pinned.node.id,
      iceServers: iceServersFor(userId, o.config.media),
      conference: { name: conference.name, title: conference.title },
      you: { displayName, role },
    });
  });

  async function ownerOf(conference: Conference): Promise<{ username: string; displayName: string }> {
    const account = await o.accounts.get(conference.owner);
    return { username: conference.owner, displayName: account?.displayName ?? conference.owner };
  }

  /** A guest link for this meeting, or a site's embed key honoured for this meeting and page origin. */
  async function checkGuestAccess(access: GuestAccess, name: string): Promise<{ via: 'link' | 'embed'; expiresAt: number }> {
    if (access.guestToken) return { via: 'link', ...(await checkGuestLink(access.guestToken, name)) };
    if (access.embedKey) {
      const result = await checkEmbedKey(access.embedKey, o.embedKeyKey, {
        room: name,
        origin: access.embedOrigin,
        allowedOrigins: o.config.embed.origins,
      });
      if (!result.ok) throw new HttpError(403, 'invalid_embed_key', result.reason);
      return { via: 'embed', expiresAt: result.claims.expiresAt };
    }
    throw new HttpError(401, 'not_signed_in', 'Sign in, or open the guest link the organiser sent you');
  }

  async function checkGuestLink(token: string, name: string): Promise<{ expiresAt: number }> {
    const result = await verifyGuestLink(token, o.guestLinkKey);
    if (!result.ok) throw new HttpError(403, 'invalid_guest_link', result.reason);
    if (result.claims.conference !== name) {
      throw new HttpError(403, 'invalid_guest_link', 'This guest link is for another meeting.');
    }
    return { expiresAt: result.claims.expiresAt };
  }
}

