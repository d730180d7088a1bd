/**
 * Phones and XMPP clients (they cannot do a web sign-in): app passwords per device and the
 * settings to type into them.
 *   GET    /api/app-passwords            → AppPasswordList
 *   POST   /api/app-passwords            NewAppPasswordRequest → NewAppPasswordResponse (201)
 *   DELETE /api/app-passwords/:id        → { ok: true } (404 when there is none)
 *   GET    /api/client-settings          → ClientSettings
 *   GET    /provisioning/linphone/:token → Linphone's remote provisioning XML (the link is shown once)
 */
import { z } from 'zod';

export const appPasswordScope = z.enum(['sip', 'xmpp']);
export type AppPasswordScope = z.infer<typeof appPasswordScope>;

export const appPasswordSummary = z.object({
  id: z.string(),
  label: z.string(),
  scopes: z.array(appPasswordScope),
  createdAt: z.number(),
  lastUsedAt: z.number().optional(),
  /** "SIP from 192.0.2.7", "XMPP from …". */
  lastUsedBy: z.string().optional(),
});
export type AppPasswordSummary = z.infer<typeof appPasswordSummary>;

export const appPasswordList = z.object({ appPasswords: z.array(appPasswordSummary), max: z.number() });
export type AppPasswordList = z.infer<typeof appPasswordList>;

export const newAppPasswordRequest = z.object({
  label: z.string().trim().min(1).max(60),
  scopes: z.array(appPasswordScope).min(1).max(2),
});
export type NewAppPasswordRequest = z.infer<typeof newAppPasswordRequest>;

export const newAppPasswordResponse = z.object({
  appPassword: appPasswordSummary,
  /** Shown once: the server keeps only what checks it. */
  password: z.string(),
  /** For SIP app passwords: a link a softphone imports its account from (Linphone remote provisioning). */
  provisioning: z.object({ linphoneUrl: z.string(), expiresAt: z.number() }).optional(),
});
export type NewAppPasswordResponse = z.infer<typeof newAppPasswordResponse>;

export const clientSettings = z.object({
  username: z.string(),
  domain: z.string(),
  sip: z.object({
    /** SIP address of record (the identity). */
    address: z.string(),
    /** Host phones send to (outbound proxy / registrar). */
    server: z.string(),
    /** Transports this server listens on, with their ports. */
    transports: z.array(z.object({ transport: z.enum(['udp', 'tcp', 'tls']), port: z.number() })),
    realm: z.string(),
  }),
  xmpp: z.object({
    jid: z.string(),
    server: z.string(),
    /** Client-to-server port (STARTTLS). */
    port: z.number(),
    websocketUrl: z.string(),
    boshUrl: z.string(),
  }),
});
export type ClientSettings = z.infer<typeof clientSettings>;
