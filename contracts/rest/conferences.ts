/**
 * Meetings over REST:
 *   POST /api/conferences                     start a new meeting (signed in) → ConferenceSummary
 *   GET  /api/conferences                     the meetings you started → { conferences }
 *   GET  /api/conferences/:name[?guest=token | ?embedKey=…&embedOrigin=…]   the pre-join screen → ConferenceInfo
 *   POST /api/conferences/:name/guest-links   the owner makes a link for people without an account → GuestLink
 *   POST /api/conferences/:name/join          → ConferenceJoin: the pinned SFU node and a short-lived join token
 * `:name` follows the meeting-name rule (contracts/meetings/meetingName.ts).
 */
import { z } from 'zod';
import { participantRole } from '../sfu/signalling.js';
import { iceServer } from './ice.js';

export const createConferenceRequest = z.object({ title: z.string().trim().max(120).optional() });
export type CreateConferenceRequest = z.infer<typeof createConferenceRequest>;

export const guestLinkRequest = z.object({ hours: z.number().int().min(1).optional() });
export type GuestLinkRequest = z.infer<typeof guestLinkRequest>;

/**
 * How someone without an account gets into a meeting: a guest link's token, or an embed key
 * the operator issued for a site, together with the origin of the page embedding Parley.
 */
export const guestAccess = z.object({
  guestToken: z.string().max(4096).optional(),
  embedKey: z.string().max(4096).optional(),
  embedOrigin: z.string().max(300).optional(),
});
export type GuestAccess = z.infer<typeof guestAccess>;

export const joinConferenceRequest = guestAccess.extend({
  /** Guests must give one; signed-in people join under their account's display name. */
  displayName: z.string().trim().max(64).optional(),
});
export type JoinConferenceRequest = z.infer<typeof joinConferenceRequest>;

export const conferenceSummary = z.object({
  name: z.string(),
  title: z.string(),
  /** The link to share: <public origin>/meet/<name>. */
  url: z.string(),
  createdAt: z.number(),
});
export type ConferenceSummary = z.infer<typeof conferenceSummary>;

export const conferenceList = z.object({ conferences: z.array(conferenceSummary) });
export type ConferenceList = z.infer<typeof conferenceList>;

export const conferenceInfo = z.object({
  name: z.string(),
  title: z.string(),
  /** false: nobody started it yet (a signed-in person joining starts it). */
  exists: z.boolean(),
  owner: z.object({ username: z.string(), displayName: z.string() }).nullable(),
  you: z.object({
    kind: z.enum(['account', 'guest']),
    role: participantRole,
    /** Guests: when the link or embed key that admits them expires (epoch ms). */
    linkExpiresAt: z.number().optional(),
  }),
});
export type ConferenceInfo = z.infer<typeof conferenceInfo>;

export const guestLink = z.object({ url: z.string(), token: z.string(), expiresAt: z.number() });
export type GuestLink = z.infer<typeof guestLink>;

export const conferenceJoin = z.object({
  /** '' = this origin's /sfu (the SFU node inside the gateway). */
  sfuUrl: z.string(),
  /** The join token for the `join` request on /sfu (contracts/sfu/signalling.ts). */
  token: z.string(),
  expiresIn: z.number(),
  node: z.string(),
  iceServers: z.array(iceServer),
  conference: z.object({ name: z.string(), title: z.string() }),
  you: z.object({ displayName: z.string(), role: participantRole }),
});
export type ConferenceJoin = z.infer<typeof conferenceJoin>;
