/**
 * ICE servers for browsers: GET /api/ice-servers. TURN entries carry short-lived credentials
 * in the TURN REST API style (coturn `use-auth-secret`).
 */
import { z } from 'zod';

/** An RTCIceServer as the browser's RTCPeerConnection takes it. */
export const iceServer = z.object({
  urls: z.union([z.string(), z.array(z.string())]),
  username: z.string().optional(),
  credential: z.string().optional(),
});
export type IceServer = z.infer<typeof iceServer>;

export const iceServersResponse = z.object({
  iceServers: z.array(iceServer),
  /** How long the TURN credentials are valid; null without TURN. */
  ttlSeconds: z.number().nullable(),
  /** 'relay' when the operator wants calls through TURN only (RTCConfiguration.iceTransportPolicy). */
  iceTransportPolicy: z.enum(['all', 'relay']).optional(),
});
export type IceServersResponse = z.infer<typeof iceServersResponse>;
