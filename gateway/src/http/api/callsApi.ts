/** The signed-in user's call history: GET /api/calls (contracts/rest/calls.ts). */
import type { CallHistoryResponse } from '../../../../contracts/rest/calls.js';
import type { CallLog } from '../../calls/callLog.js';
import type { AccountStore } from '../../directory/accountStore.js';
import { sendJson } from '../httpUtil.js';
import type { Router } from '../router.js';
import type { AuthApi } from './authApi.js';

export function registerCallsApi(router: Router, auth: AuthApi, callLog: CallLog, accounts: AccountStore): void {
  router.add('GET', '/api/calls', async (req, res) => {
    const me = (await auth.require(req)).session.username;
    const limit = Math.min(200, Math.max(1, Number(new URL(req.url ?? '/', 'http://x').searchParams.get('limit') ?? 50) || 50));
    const calls = await callLog.history(me, limit);
    // Display names, looked up once per person in the list.
    const names = new Map<string, Promise<string | undefined>>();
    for (const c of calls) if (!names.has(c.peer)) names.set(c.peer, accounts.get(c.peer).then((a) => a?.displayName, () => undefined));
    const named = await Promise.all(calls.map(async (c) => ({ ...c, peerName: await names.get(c.peer) })));
    sendJson(res, 200, { calls: named } satisfies CallHistoryResponse);
  });
}
