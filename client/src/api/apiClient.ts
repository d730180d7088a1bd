/** Calls to the gateway's REST API; errors carry the server's human-readable message. */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface Profile {
  user: { username: string; displayName: string; domain: string };
  sessionExpiresAt: number;
  sip: { uri: string; authorizationUser: string; password: string; realm: string; path: string };
  xmpp: { jid: string; password: string; websocketPath: string; boshPath: string };
}

export interface DirectoryUser {
  username: string;
  displayName: string;
  reachable: boolean;
}

export interface CallLogEntry {
  callId: string;
  direction: 'outgoing' | 'incoming';
  peer: string;
  startedAt: number;
  answeredAt?: number;
  endedAt?: number;
  outcome: 'ringing' | 'answered' | 'busy' | 'declined' | 'unreachable' | 'cancelled' | 'failed';
  missed: boolean;
  durationSeconds?: number;
  video: boolean;
}

export interface ConferenceSummary {
  name: string;
  title: string;
  url: string;
  createdAt: number;
}

export interface ConferenceInfo {
  name: string;
  title: string;
  exists: boolean;
  owner: { username: string; displayName: string } | null;
  you: { kind: 'account' | 'guest'; role: 'owner' | 'member' | 'guest'; linkExpiresAt?: number };
}

export interface ConferenceJoin {
  /** '' = this origin's /sfu (the SFU node inside the gateway). */
  sfuUrl: string;
  token: string;
  expiresIn: number;
  node: string;
  iceServers: RTCIceServer[];
  conference: { name: string; title: string };
  you: { displayName: string; role: 'owner' | 'member' | 'guest' };
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
  const data = (await res.json().catch(() => ({}))) as { error?: { code: string; message: string } };
  if (!res.ok) {
    throw new ApiError(res.status, data.error?.code ?? 'error', data.error?.message ?? `The server answered ${res.status}`);
  }
  return data as T;
}

/**
 * How someone without an account gets into a meeting: a guest link's token, or an embed key
 * the operator issued for a site together with the origin of the page embedding Parley.
 */
export interface GuestAccess {
  guestToken?: string;
  embedKey?: string;
  embedOrigin?: string;
}

export const api = {
  login: (username: string, password: string) => request<Profile>('POST', '/api/login', { username, password }),
  logout: () => request<{ ok: true }>('POST', '/api/logout'),
  me: () => request<Profile>('GET', '/api/me'),
  users: (q = '') => request<{ users: DirectoryUser[] }>('GET', `/api/users?q=${encodeURIComponent(q)}`),
  calls: () => request<{ calls: CallLogEntry[] }>('GET', '/api/calls'),
  iceServers: () => request<{ iceServers: RTCIceServer[] }>('GET', '/api/ice-servers'),
  newConference: (title?: string) => request<ConferenceSummary>('POST', '/api/conferences', { title }),
  myConferences: () => request<{ conferences: ConferenceSummary[] }>('GET', '/api/conferences'),
  conference: (name: string, access: GuestAccess = {}) => {
    const query = new URLSearchParams();
    if (access.guestToken) query.set('guest', access.guestToken);
    if (access.embedKey) query.set('embedKey', access.embedKey);
    if (access.embedOrigin) query.set('embedOrigin', access.embedOrigin);
    const q = query.toString();
    return request<ConferenceInfo>('GET', `/api/conferences/${encodeURIComponent(name)}${q ? `?${q}` : ''}`);
  },
  guestLink: (name: string) =>
    request<{ url: string; token: string; expiresAt: number }>('POST', `/api/conferences/${encodeURIComponent(name)}/guest-links`, {}),
  joinConference: (name: string, body: GuestAccess & { displayName?: string }) =>
    request<ConferenceJoin>('POST', `/api/conferences/${encodeURIComponent(name)}/join`, body),
};
