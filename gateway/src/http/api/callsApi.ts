/** The signed-in user's call history: GET /api/calls (contracts/rest/calls.ts). */
import type { CallHistoryResponse } from '../../../../contracts/rest/calls.js';
import type { CallLog } from '../../calls/callLog.js';
import { sendJson } from '../httpUtil.js';
import type { Router } from '../router.js';
import type { AuthApi } from './authApi.js';

export function registerCallsApi(router: Router, auth: AuthApi, callLog: CallLog): void {
  router.add('GET', '/api/calls', async (req, res) => {
    const me = (await auth.require(req)).session.username;
    const limit = Math.min(200, Math.max(1, Number(new URL(req.url ?? '/', 'http://x').searchParams.get('limit') ?? 50) || 50));
    sendJson(res, 200, { calls: await callLog.history(me, limit) } satisfies CallHistoryResponse);
  });
}
