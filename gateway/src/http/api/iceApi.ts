/**
 * ICE servers for browsers: GET /api/ice-servers. TURN credentials are short-lived, in the
 * TURN REST API style coturn understands (use-auth-secret): username "<expiry>:<user>",
 * password base64(HMAC-SHA1(secret, username)).
 */
import crypto from 'node:crypto';
import type { IceServer, IceServersResponse } from '../../../../contracts/rest/ice.js';
import type { GatewayConfig } from '../../config.js';
import { sendJson } from '../httpUtil.js';
import type { Router } from '../router.js';
import type { AuthApi } from './authApi.js';

export function iceServersFor(username: string, media: GatewayConfig['media'], now = Date.now()): IceServer[] {
  const servers: IceServer[] = [...media.iceServers];
  if (media.turn && media.turn.urls.length) {
    const expiry = Math.floor(now / 1000) + media.turn.ttlSeconds;
    const turnUser = `${expiry}:${username}`;
    const credential = crypto.createHmac('sha1', media.turn.secret).update(turnUser).digest('base64');
    servers.push({ urls: media.turn.urls, username: turnUser, credential });
  }
  return servers;
}

export function registerIceApi(router: Router, auth: AuthApi, media: GatewayConfig['media']): void {
  router.add('GET', '/api/ice-servers', async (req, res) => {
    const me = (await auth.require(req)).session.username;
    sendJson(res, 200, {
      iceServers: iceServersFor(me, media),
      ttlSeconds: media.turn?.ttlSeconds ?? null,
      iceTransportPolicy: media.iceTransportPolicy,
    } satisfies IceServersResponse);
  });
}
