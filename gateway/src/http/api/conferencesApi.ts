/**
 * Meetings over REST (contracts/rest/conferences.ts): the HTTP entry point to the conference
 * service. Admission rules live in the service; this module reads requests, throttles guests
 * per address, adds what only browsers need (links, ICE servers) and maps the service's
 * errors to HTTP statuses.
 */
import {
  createConferenceRequest,
  guestLinkRequest,
  joinConferenceRequest,
  type ConferenceInfo,
  type ConferenceJoin,
  type ConferenceList,
  type ConferenceSummary,
  type GuestLink,
} from '../../../../contracts/rest/conferences.js';
import { RateLimiter } from '../../../../server-common/rateLimiter.js';
import type { GatewayConfig } from '../../config.js';
import { ConferenceError, type ConferenceErrorCode, type ConferenceService, type Visitor } from '../../conferences/conferenceService.js';
import type { Conference } from '../../storage/records/conferenceRecords.js';
import { clientIp, HttpError, readJson, sendJson } from '../httpUtil.js';
import type { Router } from '../router.js';
import type { AuthApi } from './authApi.js';
import { iceServersFor } from './iceApi.js';

export interface ConferencesApiOptions {
  auth: AuthApi;
  conferences: ConferenceService;
  media: GatewayConfig['media'];
  publicUrl: () => string;
}

/** Joins by people without an account, per address: enough for a family behind one NAT, not for guessing. */
const GUEST_JOINS_PER_MINUTE = 30;

const HTTP_STATUS: Record<ConferenceErrorCode, number> = {
  invalid_name: 400,
  name_required: 400,
  not_signed_in: 401,
  invalid_guest_link: 403,
  invalid_embed_key: 403,
  not_owner: 403,
  no_such_meeting: 404,
  too_many_meetings: 429,
  no_free_name: 500,
  no_conference_server: 503,
  registry_unavailable: 503,
};

/** Runs a service call; its refusals become HTTP errors (503s tell the client when to retry). */
async function answer<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (!(err instanceof ConferenceError)) throw err;
    const status = HTTP_STATUS[err.code];
    throw new HttpError(status, err.code, err.message, status === 503 ? { 'Retry-After': '5' } : {});
  }
}

export function registerConferencesApi(router: Router, o: ConferencesApiOptions): void {
  const guestJoins = new RateLimiter(GUEST_JOINS_PER_MINUTE / 60, 20);
  const service = o.conferences;

  const linkFor = (name: string, guestToken?: string) =>
    `${o.publicUrl()}/meet/${name}${guestToken ? `?guest=${encodeURIComponent(guestToken)}` : ''}`;

  const summary = (c: Conference): ConferenceSummary => ({ name: c.name, title: c.title, url: linkFor(c.name), createdAt: c.createdAt });

  router.add('POST', '/api/conferences', async (req, res) => {
    const me = (await o.auth.require(req)).session.username;
    const body = await readJson(req, createConferenceRequest);
    const conference = await answer(() => service.start(me, body.title));
    sendJson(res, 201, summary(conference));
  });

  router.add('GET', '/api/conferences', async (req, res) => {
    const me = (await o.auth.require(req)).session.username;
    sendJson(res, 200, { conferences: (await service.ownedBy(me)).map(summary) } satisfies ConferenceList);
  });

  router.add('GET', '/api/conferences/:name', async (req, res, params) => {
    const signedIn = await o.auth.sessionOf(req);
    const query = new URL(req.url ?? '/', 'http://x').searchParams;
    const visitor: Visitor = signedIn
      ? { kind: 'account', username: signedIn.session.username }
      : {
          kind: 'guest',
          access: {
            guestToken: query.get('guest') ?? undefined,
            embedKey: query.get('embedKey') ?? undefined,
            embedOrigin: query.get('embedOrigin') ?? undefined,
          },
        };
    const preview = await answer(() => service.preview(params.name ?? '', visitor));
    const info: ConferenceInfo = {
      name: preview.name,
      title: preview.conference?.title ?? preview.name,
      exists: preview.conference !== undefined,
      owner: preview.owner,
      you:
        visitor.kind === 'account'
          ? { kind: 'account', role: preview.role }
          : { kind: 'guest', role: 'guest', linkExpiresAt: preview.accessExpiresAt },
    };
    sendJson(res, 200, info);
  });

  router.add('POST', '/api/conferences/:name/guest-links', async (req, res, params) => {
    const me = (await o.auth.require(req)).session.username;
    const body = await readJson(req, guestLinkRequest);
    const { name, token, expiresAt } = await answer(() => service.guestLink(me, params.name ?? '', body.hours));
    sendJson(res, 201, { url: linkFor(name, token), token, expiresAt } satisfies GuestLink);
  });

  router.add('POST', '/api/conferences/:name/join', async (req, res, params) => {
    const body = await readJson(req, joinConferenceRequest);
    const signedIn = await o.auth.sessionOf(req);
    let visitor: Visitor;
    if (signedIn) {
      visitor = { kind: 'account', username: signedIn.session.username };
    } else {
      if (!body.guestToken && !body.embedKey) {
        throw new HttpError(401, 'not_signed_in', 'Sign in, or open the guest link the organiser sent you');
      }
      if (!guestJoins.take(clientIp(req))) {
        throw new HttpError(429, 'too_many_attempts', 'Too many attempts to join; wait a minute.', { 'Retry-After': '60' });
      }
      visitor = { kind: 'guest', access: body, displayName: body.displayName };
    }
    const admission = await answer(() => service.admit(params.name ?? '', visitor));
    const join: ConferenceJoin = {
      // '' = the embedded node, on this origin: the client uses its own origin's /sfu.
      sfuUrl: admission.node.url,
      token: admission.token,
      expiresIn: admission.expiresIn,
      node: admission.node.id,
      iceServers: iceServersFor(admission.participant.userId, o.media),
      conference: { name: admission.conference.name, title: admission.conference.title },
      you: { displayName: admission.participant.displayName, role: admission.participant.role },
    };
    sendJson(res, 200, join);
  });
}
