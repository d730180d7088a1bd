/** The people you can call: GET /api/users?q=… (contracts/rest/directory.ts). */
import type { DirectoryResponse } from '../../../../contracts/rest/directory.js';
import type { AccountStore } from '../../directory/accountStore.js';
import type { LocationStore } from '../../sip/registrar/locationStore.js';
import { sendJson } from '../httpUtil.js';
import type { Router } from '../router.js';
import type { AuthApi } from './authApi.js';

const MAX_RESULTS = 50;

export function registerDirectoryApi(router: Router, auth: AuthApi, accounts: AccountStore, locations: LocationStore, domain: string): void {
  router.add('GET', '/api/users', async (req, res) => {
    const me = (await auth.require(req)).session.username;
    const q = (new URL(req.url ?? '/', 'http://x').searchParams.get('q') ?? '').trim().toLowerCase();
    const all = await accounts.list();
    const matches = all
      .filter((a) => a.username !== me && a.disabledAt === undefined)
      .filter((a) => !q || a.username.includes(q) || a.displayName.toLowerCase().includes(q))
      .slice(0, MAX_RESULTS);
    const users = await Promise.all(
      matches.map(async (a) => ({
        username: a.username,
        displayName: a.displayName,
        reachable: (await locations.list(`${a.username}@${domain}`)).length > 0,
      })),
    );
    sendJson(res, 200, { users } satisfies DirectoryResponse);
  });
}
