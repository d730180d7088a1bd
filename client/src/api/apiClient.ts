/**
 * Calls to the gateway's REST API; errors carry the server's human-readable message. The
 * request and response shapes are the contracts in contracts/rest/ (types only here: the
 * server validates).
 */
import type { LoginRequest, Profile, SignInOptions } from '../../../contracts/rest/auth';
import type { AppPasswordList, AppPasswordScope, ClientSettings, NewAppPasswordResponse } from '../../../contracts/rest/devices';
import type { CallHistoryResponse } from '../../../contracts/rest/calls';
import type {
  ConferenceInfo,
  ConferenceJoin,
  ConferenceList,
  ConferenceSummary,
  CreateConferenceRequest,
  GuestAccess,
  GuestLink,
  JoinConferenceRequest,
} from '../../../contracts/rest/conferences';
import type { DirectoryResponse } from '../../../contracts/rest/directory';
import type { ApiErrorBody } from '../../../contracts/rest/errors';
import type { IceServersResponse } from '../../../contracts/rest/ice';

export type { CallLogEntry } from '../../../contracts/rest/calls';
export type { ConferenceInfo, ConferenceJoin, ConferenceSummary, GuestAccess } from '../../../contracts/rest/conferences';
export type { DirectoryUser } from '../../../contracts/rest/directory';
export type { Profile, SignInOptions };
export type { AppPasswordScope, AppPasswordSummary, ClientSettings, NewAppPasswordResponse } from '../../../contracts/rest/devices';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, 'network', 'Cannot reach the Parley server. Check your connection and try again.');
  }
  const data = (await res.json().catch(() => ({}))) as Partial<ApiErrorBody>;
  if (!res.ok) {
    throw new ApiError(res.status, data.error?.code ?? 'error', data.error?.message ?? `The server answered ${res.status}`);
  }
  return data as T;
}

export const api = {
  login: (username: string, password: string) =>
    request<Profile>('POST', '/api/login', { username, password } satisfies LoginRequest),
  logout: () => request<{ ok: true; idpLogoutUrl?: string }>('POST', '/api/logout'),
  signInOptions: () => request<SignInOptions>('GET', '/api/sign-in-options'),
  appPasswords: () => request<AppPasswordList>('GET', '/api/app-passwords'),
  newAppPassword: (label: string, scopes: AppPasswordScope[]) => request<NewAppPasswordResponse>('POST', '/api/app-passwords', { label, scopes }),
  revokeAppPassword: (id: string) => request<{ ok: true }>('DELETE', `/api/app-passwords/${encodeURIComponent(id)}`),
  clientSettings: () => request<ClientSettings>('GET', '/api/client-settings'),
  me: () => request<Profile>('GET', '/api/me'),
  users: (q = '') => request<DirectoryResponse>('GET', `/api/users?q=${encodeURIComponent(q)}`),
  calls: () => request<CallHistoryResponse>('GET', '/api/calls'),
  iceServers: () => request<IceServersResponse>('GET', '/api/ice-servers'),
  newConference: (title?: string) =>
    request<ConferenceSummary>('POST', '/api/conferences', { title } satisfies CreateConferenceRequest),
  myConferences: () => request<ConferenceList>('GET', '/api/conferences'),
  conference: (name: string, access: GuestAccess = {}) => {
    const query = new URLSearchParams();
    if (access.guestToken) query.set('guest', access.guestToken);
    if (access.embedKey) query.set('embedKey', access.embedKey);
    if (access.embedOrigin) query.set('embedOrigin', access.embedOrigin);
    const q = query.toString();
    return request<ConferenceInfo>('GET', `/api/conferences/${encodeURIComponent(name)}${q ? `?${q}` : ''}`);
  },
  guestLink: (name: string) => request<GuestLink>('POST', `/api/conferences/${encodeURIComponent(name)}/guest-links`, {}),
  joinConference: (name: string, body: JoinConferenceRequest) =>
    request<ConferenceJoin>('POST', `/api/conferences/${encodeURIComponent(name)}/join`, body),
};
