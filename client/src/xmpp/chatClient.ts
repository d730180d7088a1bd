/**
 * The browser's XMPP client (strophe.js 5): WebSocket with BOSH as fallback, stream
 * management (resumption after a dropped connection), roster and presence, 1:1 chat with
 * receipts, markers and chat states, history from the server archive (MAM), carbons, group
 * chats, file upload. The UI reads one immutable `ChatState` snapshot per change.
 */
import { $iq, $msg, $pres, Strophe } from 'strophe.js';
import type { Profile } from '../api/apiClient';
import { IN_CALL_ELEMENT, NS, PARLEY_NS } from '../../../contracts/xmpp/namespaces';
import { groupChatDomain, isGroupChatJid, uploadDomain } from '../../../contracts/xmpp/serviceAddresses';
import { Emitter } from '../util/emitter';

export type Show = 'available' | 'away' | 'dnd' | 'xa' | 'offline';

export interface ResourcePresence {
  show: Show;
  status?: string;
  priority: number;
  inCall: boolean;
}

export interface Contact {
  jid: string;
  name?: string;
  subscription: 'none' | 'to' | 'from' | 'both';
  ask: boolean;
  resources: Record<string, ResourcePresence>;
}

export interface ChatMessage {
  /** Unique within the conversation (archive id, or our own id for what we sent). */
  key: string;
  id?: string;
  from: string;
  body: string;
  stamp: number;
  direction: 'in' | 'out';
  receipt?: 'delivered' | 'read';
  file?: { url: string; name: string; image: boolean };
  error?: string;
}

export interface Conversation {
  jid: string;
  kind: 'chat' | 'groupchat';
  messages: ChatMessage[];
  unread: number;
  /** Who is typing (bare JIDs or nicks). */
  typing: string[];
  historyComplete: boolean;
  loadingHistory: boolean;
  /** Oldest archive id loaded (RSM "before" for the next page). */
  oldestArchiveId?: string;
}

export interface Occupant {
  jid?: string;
  role: string;
  affiliation: string;
  show: Show;
}

export interface RoomState {
  jid: string;
  name: string;
  nick: string;
  joined: boolean;
  occupants: Record<string, Occupant>;
  error?: string;
}

export interface Invitation {
  room: string;
  /** The group's name, once the room has told it (disco#info). */
  name?: string;
  from: string;
  reason?: string;
}

export type ChatStatus = 'connecting' | 'online' | 'reconnecting' | 'offline' | 'failed';

export interface ChatState {
  status: ChatStatus;
  statusDetail?: string;
  transport?: 'websocket' | 'bosh';
  me: { jid: string; show: Show; status: string };
  contacts: Record<string, Contact>;
  requests: string[];
  /** The names the askers give (XEP-0172 nick), by bare JID. */
  requestNames: Record<string, string>;
  conversations: Record<string, Conversation>;
  rooms: Record<string, RoomState>;
  invitations: Invitation[];
  uploadMaxBytes?: number;
}

export interface ChatClientEvents {
  change: [ChatState];
  /** A message arrived in a conversation (for notifications). */
  incoming: [conversation: string, message: ChatMessage];
}

type Connection = InstanceType<typeof Strophe.Connection>;

const IMAGE = /\.(png|jpe?g|gif|webp|avif)$/i;
const HISTORY_PAGE = 30;

const bare = (jid: string) => jid.split('/')[0];
const resourceOf = (jid: string) => jid.slice(jid.indexOf('/') + 1);
const child = (e: Element, name: string, ns?: string): Element | undefined => {
  for (const c of Array.from(e.children)) if (c.localName === name && (ns === undefined || c.namespaceURI === ns)) return c;
  return undefined;
};
const text = (e: Element | undefined) => e?.textContent ?? '';

let seq = 0;
const newId = () => `p${Date.now().toString(36)}${(seq++).toString(36)}`;

export class ChatClient extends Emitter<ChatClientEvents> {
  #conn: Connection | undefined;
  #profile: Profile | undefined;
  #state: ChatState = emptyState();
  #stopped = true;
  #retry = 0;
  #retryTimer: number | undefined;
  #everConnected = false;
  #transport: 'websocket' | 'bosh' = 'websocket';
  /** Per-conversation timers that turn "composing" into "paused". */
  #typingTimers = new Map<string, number>();
  #activeConversation: string | undefined;

  get state(): ChatState {
    return this.#state;
  }

  /** `transport: 'bosh'` skips WebSocket (networks that block it; also `?xmpp=bosh` in the URL). */
  start(profile: Profile, options: { transport?: 'websocket' | 'bosh' } = {}): void {
    this.stop();
    // A closed or reloaded tab says goodbye, so the server does not keep its session waiting.
    window.addEventListener('pagehide', this.#onPageHide);
    this.#profile = profile;
    this.#stopped = false;
    this.#everConnected = false;
    this.#transport = options.transport ?? 'websocket';
    this.#set({ ...emptyState(), me: { jid: profile.xmpp.jid, show: 'available', status: '' } });
    this.#connect();
  }

  #onPageHide = () => this.stop();

  stop(): void {
    window.removeEventListener('pagehide', this.#onPageHide);
    this.#stopped = true;
    window.clearTimeout(this.#retryTimer);
    if (this.#conn) {
      try {
        this.#conn.send($pres({ type: 'unavailable' }));
        this.#conn.flush();
        this.#conn.disconnect('signing out');
      } catch {
        // already closed
      }
      this.#conn = undefined;
    }
  }

  // ---- connection ----------------------------------------------------------------------

  #url(): string {
    const p = this.#profile!.xmpp;
    const wsScheme = location.protocol === 'https:' ? 'wss' : 'ws';
    return this.#transport === 'websocket' ? `${wsScheme}://${location.host}${p.websocketPath}` : `${location.origin}${p.boshPath}`;
  }

  #connect(): void {
    const profile = this.#profile!;
    // One connection object per transport: reconnecting with it resumes the stream (XEP-0198).
    if (!this.#conn) {
      this.#conn = new Strophe.Connection(this.#url(), { enableStreamManagement: this.#transport === 'websocket' });
      this.#handlers = [];
    }
    const conn = this.#conn;
    this.#installHandlers(conn);
    this.#set({ status: this.#everConnected ? 'reconnecting' : 'connecting', transport: this.#transport });
    conn.connect(`${profile.xmpp.jid}/web-${Math.random().toString(36).slice(2, 8)}`, profile.xmpp.password, (status: number, condition?: string | null) => {
      if (this.#conn !== conn) return;
      const S = Strophe.Status;
      if (status === S.CONNECTED || status === S.ATTACHED) {
        this.#retry = 0;
        const resumed = conn.hasResumed();
        this.#everConnected = true;
        this.#set({ status: 'online', statusDetail: undefined, transport: this.#transport });
        if (!resumed) void this.#onSessionStart();
        else this.#flushOutbox();
      } else if (status === S.AUTHFAIL) {
        this.#set({ status: 'failed', statusDetail: 'Chat sign-in failed; sign in to Parley again.' });
        this.#stopped = true;
      } else if (status === S.CONNFAIL || status === S.DISCONNECTED || status === S.CONNTIMEOUT) {
        if (this.#stopped) return this.#set({ status: 'offline' });
        if (!this.#everConnected && this.#transport === 'websocket' && status === S.CONNFAIL) {
          // WebSocket blocked (a proxy, a firewall): fall back to BOSH long-polling.
          this.#transport = 'bosh';
          this.#conn = undefined;
          this.#connect();
          return;
        }
        this.#scheduleReconnect(condition ?? undefined);
      }
    });
  }

  #scheduleReconnect(reason?: string): void {
    window.clearTimeout(this.#retryTimer);
    const delay = Math.min(15_000, 500 * 2 ** this.#retry++);
    this.#set({ status: 'reconnecting', statusDetail: reason ? `Connection lost (${reason}); reconnecting…` : 'Connection lost; reconnecting…' });
    this.#retryTimer = window.setTimeout(() => {
      if (this.#stopped) return;
      if (this.#transport === 'bosh') this.#conn = undefined; // BOSH sessions cannot be resumed
      this.#connect();
    }, delay);
  }

  async #onSessionStart(): Promise<void> {
    const conn = this.#conn!;
    // Carbons first, so no message to another device is missed; then roster, then presence.
    await this.#iq($iq({ type: 'set' }).c('enable', { xmlns: NS.carbons })).catch(() => undefined);
    const roster = await this.#iq($iq({ type: 'get' }).c('query', { xmlns: NS.roster })).catch(() => undefined);
    const contacts: Record<string, Contact> = {};
    for (const item of Array.from(roster?.getElementsByTagName('item') ?? [])) {
      const jid = item.getAttribute('jid')!;
      // A new session (not a resumed one): what we knew of the contacts' devices is out of date;
      // the server sends each one's current presence once ours goes out (RFC 6121 §4.2.2).
      contacts[jid] = { jid, name: item.getAttribute('name') ?? undefined, subscription: (item.getAttribute('subscription') ?? 'none') as Contact['subscription'], ask: item.getAttribute('ask') === 'subscribe', resources: {} };
    }
    this.#set({ contacts });
    this.#sendPresence();
    void this.#loadRecentConversations();
    void this.#discoverUpload();
    for (const room of Object.values(this.#state.rooms)) if (room.joined || this.#savedRooms().includes(room.jid)) this.joinRoom(room.jid, room.name);
    for (const jid of this.#savedRooms()) if (!this.#state.rooms[jid]) this.joinRoom(jid);
    // After the rooms are joined again, so group messages written meanwhile are accepted.
    this.#flushOutbox();
    void conn;
  }

  #iq(builder: ReturnType<typeof $iq>, timeoutMs = 15_000): Promise<Element> {
    return new Promise((resolve, reject) => {
      if (!this.#conn) return reject(new Error('not connected'));
      this.#conn.sendIQ(builder.tree(), resolve, (err: Element | null) => reject(new Error(err ? errorText(err) : 'timed out')), timeoutMs);
    });
  }

  // ---- presence --------------------------------------------------------------------------

  setPresence(show: Show, status: string): void {
    this.#set({ me: { ...this.#state.me, show, status } });
    this.#sendPresence();
  }

  #sendPresence(): void {
    const { show, status } = this.#state.me;
    const p = $pres();
    if (show === 'away' || show === 'dnd' || show === 'xa') p.c('show').t(show).up();
    if (status) p.c('status').t(status).up();
    this.#conn?.send(p);
    for (const room of Object.values(this.#state.rooms)) {
      if (!room.joined) continue;
      const rp = $pres({ to: `${room.jid}/${room.nick}` });
      if (show !== 'available') rp.c('show').t(show).up();
      this.#conn?.send(rp);
    }
  }

  addContact(username: string, name?: string): void {
    const jid = username.includes('@') ? username : `${username}@${this.#profile!.user.domain}`;
    void this.#iq($iq({ type: 'set' }).c('query', { xmlns: NS.roster }).c('item', name ? { jid, name } : { jid }));
    this.#conn?.send(this.#subscribeTo(jid));
  }

  /** A subscription request that says who asks (XEP-0172): the contact's client shows the name. */
  #subscribeTo(jid: string) {
    const me = this.#profile!.user;
    return $pres({ to: jid, type: 'subscribe' }).c('nick', { xmlns: NS.nick }).t(me.displayName || me.username).up();
  }

  removeContact(jid: string): void {
    void this.#iq($iq({ type: 'set' }).c('query', { xmlns: NS.roster }).c('item', { jid, subscription: 'remove' }));
  }

  acceptRequest(jid: string, name?: string): void {
    this.#conn?.send($pres({ to: jid, type: 'subscribed' }));
    const existing = this.#state.contacts[jid];
    if (!existing || (existing.subscription !== 'to' && existing.subscription !== 'both')) {
      // Ask back, so the contact works both ways (as users expect from "accept").
      const named = name ?? this.#state.requestNames[jid];
      if (named) void this.#iq($iq({ type: 'set' }).c('query', { xmlns: NS.roster }).c('item', { jid, name: named }));
      this.#conn?.send(this.#subscribeTo(jid));
    }
    this.#set({ requests: this.#state.requests.filter((r) => r !== jid) });
  }

  denyRequest(jid: string): void {
    this.#conn?.send($pres({ to: jid, type: 'unsubscribed' }));
    this.#set({ requests: this.#state.requests.filter((r) => r !== jid) });
  }

  // ---- messages ----------------------------------------------------------------------------

  openConversation(jid: string | undefined): void {
    this.#activeConversation = jid;
    if (!jid) return;
    const conv = this.#conversation(jid);
    if (conv.unread) this.#updateConversation(jid, { unread: 0 });
    this.#sendDisplayedMarker(jid);
    if (!conv.messages.length && !conv.historyComplete) void this.loadHistory(jid);
  }

  sendMessage(to: string, body: string, file?: ChatMessage['file']): void {
    const kind = this.#kindOf(to);
    const id = newId();
    const m = $msg({ to, type: kind === 'groupchat' ? 'groupchat' : 'chat', id }).c('body').t(body).up();
    if (file) m.c('x', { xmlns: NS.oob }).c('url').t(file.url).up().up();
    if (kind === 'chat') {
      m.c('request', { xmlns: NS.receipts }).up();
      m.c('markable', { xmlns: NS.markers }).up();
      m.c('active', { xmlns: NS.chatStates }).up();
    }
    this.#sendWritten(m.tree());
    window.clearTimeout(this.#typingTimers.get(to));
    if (kind === 'chat') this.#addMessage(to, { key: id, id, from: bare(this.#state.me.jid), body, stamp: Date.now(), direction: 'out', file });
  }

  /** What the user wrote while the connection was down, in order: sent once it is back. */
  #outbox: Element[] = [];

  #sendWritten(stanza: Element): void {
    if (this.#conn && this.#state.status === 'online') {
      try {
        this.#conn.send(stanza);
        return;
      } catch {
        // the connection died under us: the next one sends it
      }
    }
    this.#outbox.push(stanza);
  }

  /** Sends what only matters now (chat states): dropped while the connection is down. */
  #sendEphemeral(stanza: ReturnType<typeof $msg>): void {
    if (!this.#conn || this.#state.status !== 'online') return;
    try {
      this.#conn.send(stanza);
    } catch {
      // the socket is closing or not open yet: a typing notice is not worth keeping
    }
  }

  #flushOutbox(): void {
    for (const stanza of this.#outbox.splice(0)) this.#conn?.send(stanza);
  }

  /** Call on every keystroke in the composer: sends composing, then paused after 5 s. */
  typing(to: string): void {
    if (this.#kindOf(to) !== 'chat') return;
    if (!this.#typingTimers.has(to)) this.#sendEphemeral($msg({ to, type: 'chat' }).c('composing', { xmlns: NS.chatStates }));
    window.clearTimeout(this.#typingTimers.get(to));
    this.#typingTimers.set(
      to,
      window.setTimeout(() => {
        this.#typingTimers.delete(to);
        this.#sendEphemeral($msg({ to, type: 'chat' }).c('paused', { xmlns: NS.chatStates }));
      }, 5000),
    );
  }

  /** Older messages from the server archive (XEP-0313), a page at a time. */
  async loadHistory(jid: string): Promise<void> {
    const conv = this.#conversation(jid);
    if (conv.loadingHistory || conv.historyComplete || !this.#conn) return;
    this.#updateConversation(jid, { loadingHistory: true });
    const isRoom = conv.kind === 'groupchat';
    try {
      const { messages, complete, first } = await this.#mamQuery(isRoom ? jid : undefined, isRoom ? undefined : jid, conv.oldestArchiveId ?? '');
      const current = this.#conversation(jid);
      const known = new Set(current.messages.map((m) => m.key));
      const older = messages.filter((m) => !known.has(m.key) && !(m.id && current.messages.some((x) => x.id === m.id && x.direction === m.direction)));
      this.#updateConversation(jid, {
        messages: [...older, ...current.messages].sort((a, b) => a.stamp - b.stamp),
        historyComplete: complete,
        oldestArchiveId: first ?? current.oldestArchiveId,
        loadingHistory: false,
      });
    } catch {
      this.#updateConversation(jid, { loadingHistory: false });
    }
  }

  /** Recent conversations (from the archive) so the list is there after a reload. */
  async #loadRecentConversations(): Promise<void> {
    try {
      const { messages } = await this.#mamQuery(undefined, undefined, '', 100, true);
      for (const m of messages) {
        const peer = m.peer!;
        const conv = this.#conversation(peer);
        if (conv.messages.some((x) => x.key === m.key || (m.id && x.id === m.id))) continue;
        this.#updateConversation(peer, { messages: [...conv.messages, m].sort((a, b) => a.stamp - b.stamp), oldestArchiveId: conv.oldestArchiveId ?? m.key });
      }
    } catch {
      // the list fills as messages come
    }
  }

  #mamQuery(archive: string | undefined, withJid: string | undefined, before: string, max = HISTORY_PAGE, withPeers = false): Promise<{ messages: Array<ChatMessage & { peer?: string }>; complete: boolean; first?: string }> {
    const conn = this.#conn!;
    const queryid = newId();
    const collected: Array<ChatMessage & { peer?: string }> = [];
    const handler = conn.addHandler(
      (msg: Element) => {
        const result = child(msg, 'result', NS.mam);
        if (!result || result.getAttribute('queryid') !== queryid) return true;
        const fwd = child(result, 'forwarded', NS.forward);
        const inner = fwd && child(fwd, 'message');
        if (!inner) return true;
        const stamp = Date.parse(child(fwd, 'delay', NS.delay)?.getAttribute('stamp') ?? '') || Date.now();
        const parsed = this.#parseArchived(inner, result.getAttribute('id')!, stamp, archive !== undefined);
        if (parsed) collected.push(parsed);
        return true;
      },
      NS.mam,
      'message',
      null,
    );
    const iq = $iq({ type: 'set', ...(archive ? { to: archive } : {}) }).c('query', { xmlns: NS.mam, queryid });
    iq.c('x', { xmlns: NS.dataForms, type: 'submit' }).c('field', { var: 'FORM_TYPE', type: 'hidden' }).c('value').t(NS.mam).up().up();
    if (withJid) iq.c('field', { var: 'with' }).c('value').t(withJid).up().up();
    iq.up().c('set', { xmlns: NS.rsm }).c('max').t(String(max)).up().c('before').t(before);
    return this.#iq(iq)
      .then((res) => {
        const fin = child(res, 'fin', NS.mam);
        const set = fin && child(fin, 'set', NS.rsm);
        void withPeers;
        return { messages: collected, complete: fin?.getAttribute('complete') === 'true', first: set ? text(child(set, 'first')) || undefined : undefined };
      })
      .finally(() => conn.deleteHandler(handler));
  }

  #parseArchived(m: Element, archiveId: string, stamp: number, inRoom: boolean): (ChatMessage & { peer?: string }) | undefined {
    const body = text(child(m, 'body'));
    if (!body) return undefined;
    const from = m.getAttribute('from') ?? '';
    const me = bare(this.#state.me.jid);
    if (inRoom) {
      const nick = resourceOf(from);
      const room = this.#state.rooms[bare(from)];
      return { key: archiveId, id: m.getAttribute('id') ?? undefined, from: nick, body, stamp, direction: room && nick === room.nick ? 'out' : 'in', file: fileOf(m, body), peer: bare(from) };
    }
    const out = bare(from) === me;
    const peer = out ? bare(m.getAttribute('to') ?? '') : bare(from);
    return { key: archiveId, id: m.getAttribute('id') ?? undefined, from: bare(from), body, stamp, direction: out ? 'out' : 'in', file: fileOf(m, body), peer };
  }

  // ---- group chats -------------------------------------------------------------------------

  /** Creates a members-only, persistent room and invites people to it. */
  createRoom(name: string, invitees: string[]): string {
    const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'room';
    const jid = `${slug}-${Math.random().toString(36).slice(2, 6)}@${groupChatDomain(this.#profile!.user.domain)}`;
    this.joinRoom(jid, name, async () => {
      const form = $iq({ type: 'set', to: jid }).c('query', { xmlns: NS.mucOwner }).c('x', { xmlns: NS.dataForms, type: 'submit' });
      const field = (v: string, value: string) => form.c('field', { var: v }).c('value').t(value).up().up();
      field('FORM_TYPE', NS.mucRoomConfig);
      field('muc#roomconfig_roomname', name);
      field('muc#roomconfig_persistentroom', '1');
      field('muc#roomconfig_membersonly', '1');
      field('muc#roomconfig_publicroom', '0');
      await this.#iq(form).catch(() => undefined);
      for (const u of invitees) this.invite(jid, u);
    });
    return jid;
  }

  joinRoom(jid: string, name?: string, onJoined?: () => void): void {
    const nick = this.#profile!.user.displayName || this.#profile!.user.username;
    const existing = this.#state.rooms[jid];
    this.#setRoom(jid, { jid, name: name ?? existing?.name ?? jid.split('@')[0], nick, joined: false, occupants: existing?.occupants ?? {}, error: undefined });
    // A room joined by address (an invitation, or rejoined after a reload) learns its name.
    if (!name && (!existing || existing.name === jid.split('@')[0])) {
      void this.#roomName(jid).then((found) => {
        const room = this.#state.rooms[jid];
        if (found && room) this.#setRoom(jid, { ...room, name: found });
      });
    }
    this.#conversation(jid, 'groupchat');
    if (onJoined) this.#onJoined.set(jid, onJoined);
    const p = $pres({ to: `${jid}/${nick}` }).c('x', { xmlns: NS.muc }).c('history', { maxstanzas: '50' });
    this.#conn?.send(p);
    this.#saveRooms([...new Set([...this.#savedRooms(), jid])]);
    this.#set({ invitations: this.#state.invitations.filter((i) => i.room !== jid) });
  }

  #onJoined = new Map<string, () => void>();

  /** A group chat's name, from its disco#info identity (XEP-0045 §6.4); undefined when it has none. */
  async #roomName(jid: string): Promise<string | undefined> {
    const info = await this.#iq($iq({ type: 'get', to: jid }).c('query', { xmlns: NS.discoInfo }), 10_000).catch(() => undefined);
    const identity = info && child(child(info, 'query', NS.discoInfo) ?? info, 'identity');
    const name = identity?.getAttribute('name')?.trim();
    return name && name !== jid.split('@')[0] ? name.slice(0, 100) : undefined;
  }

  leaveRoom(jid: string): void {
    const room = this.#state.rooms[jid];
    if (room) this.#conn?.send($pres({ to: `${jid}/${room.nick}`, type: 'unavailable' }));
    const rooms = { ...this.#state.rooms };
    delete rooms[jid];
    const conversations = { ...this.#state.conversations };
    delete conversations[jid];
    this.#set({ rooms, conversations });
    this.#saveRooms(this.#savedRooms().filter((r) => r !== jid));
  }

  invite(room: string, user: string): void {
    const jid = user.includes('@') ? user : `${user}@${this.#profile!.user.domain}`;
    this.#conn?.send($msg({ to: room }).c('x', { xmlns: NS.mucUser }).c('invite', { to: jid }));
  }

  declineInvitation(room: string): void {
    this.#set({ invitations: this.#state.invitations.filter((i) => i.room !== room) });
  }

  #roomsKey(): string {
    return `parley.rooms.${this.#profile?.user.username}`;
  }

  #savedRooms(): string[] {
    try {
      return JSON.parse(localStorage.getItem(this.#roomsKey()) ?? '[]') as string[];
    } catch {
      return [];
    }
  }

  #saveRooms(rooms: string[]): void {
    localStorage.setItem(this.#roomsKey(), JSON.stringify(rooms));
  }

  // ---- files ------------------------------------------------------------------------------

  async #discoverUpload(): Promise<void> {
    try {
      const info = await this.#iq($iq({ type: 'get', to: uploadDomain(this.#profile!.user.domain) }).c('query', { xmlns: NS.discoInfo }));
      for (const f of Array.from(info.getElementsByTagName('field'))) {
        if (f.getAttribute('var') === 'max-file-size') this.#set({ uploadMaxBytes: Number(text(child(f, 'value'))) });
      }
    } catch {
      // no upload service: the attach button stays hidden
    }
  }

  /** Uploads a file (XEP-0363) and sends it; `onProgress` gets 0…1. */
  async sendFile(to: string, file: File, onProgress: (fraction: number) => void): Promise<void> {
    const max = this.#state.uploadMaxBytes;
    if (max && file.size > max) throw new Error(`${file.name} is ${formatSize(file.size)}; files can be at most ${formatSize(max)}.`);
    const type = file.type || 'application/octet-stream';
    const slot = await this.#iq($iq({ type: 'get', to: uploadDomain(this.#profile!.user.domain) }).c('request', { xmlns: NS.upload, filename: file.name, size: String(file.size), 'content-type': type }));
    const put = slot.getElementsByTagName('put')[0]?.getAttribute('url');
    const get = slot.getElementsByTagName('get')[0]?.getAttribute('url');
    if (!put || !get) throw new Error('The server did not give an upload slot');
    await new Promise<void>((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open('PUT', put);
      xhr.setRequestHeader('Content-Type', type);
      xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
      xhr.onload = () => (xhr.status >= 200 && xhr.status < 300 ? resolve() : reject(new Error(`Upload failed (${xhr.status})`)));
      xhr.onerror = () => reject(new Error('Upload failed: network error'));
      xhr.send(file);
    });
    this.sendMessage(to, get, { url: get, name: file.name, image: type.startsWith('image/') || IMAGE.test(file.name) });
  }

  // ---- incoming stanzas -----------------------------------------------------------------

  #handlers: ReturnType<Connection['addHandler']>[] = [];

  /**
   * Before every connect: strophe drops a connection's handlers when it disconnects, and the
   * same connection object is reused to reconnect (so that XEP-0198 can resume the stream).
   */
  #installHandlers(conn: Connection): void {
    for (const h of this.#handlers) conn.deleteHandler(h);
    this.#handlers = [
      conn.addHandler((p: Element) => this.#onPresence(p), null, 'presence', null),
      conn.addHandler((m: Element) => this.#onMessage(m), null, 'message', null),
      conn.addHandler((iq: Element) => this.#onRosterPush(iq), NS.roster, 'iq', 'set'),
    ];
  }

  #onRosterPush(iq: Element): boolean {
    const from = iq.getAttribute('from');
    if (from && bare(from) !== bare(this.#state.me.jid)) return true; // only our server may push
    const item = iq.getElementsByTagName('item')[0];
    if (item) {
      const jid = item.getAttribute('jid')!;
      const contacts = { ...this.#state.contacts };
      const sub = item.getAttribute('subscription');
      if (sub === 'remove') delete contacts[jid];
      else contacts[jid] = { jid, name: item.getAttribute('name') ?? undefined, subscription: (sub ?? 'none') as Contact['subscription'], ask: item.getAttribute('ask') === 'subscribe', resources: contacts[jid]?.resources ?? {} };
      this.#set({ contacts });
    }
    this.#conn?.send($iq({ type: 'result', id: iq.getAttribute('id') ?? '' }));
    return true;
  }

  #onPresence(p: Element): boolean {
    const from = p.getAttribute('from') ?? '';
    const type = p.getAttribute('type');
    const jid = bare(from);
    if (this.#state.rooms[jid]) return this.#onRoomPresence(p, jid);
    if (type === 'subscribe') {
      const c = this.#state.contacts[jid];
      // Someone we added ourselves asks back: approve automatically (a mutual contact).
      if (c && (c.ask || c.subscription === 'to' || c.subscription === 'both')) this.#conn?.send($pres({ to: jid, type: 'subscribed' }));
      else {
        const nick = text(child(p, 'nick', NS.nick)).trim().slice(0, 100);
        const requestNames = nick ? { ...this.#state.requestNames, [jid]: nick } : this.#state.requestNames;
        if (!this.#state.requests.includes(jid)) this.#set({ requests: [...this.#state.requests, jid], requestNames });
        else if (nick) this.#set({ requestNames });
      }
      return true;
    }
    if (type === 'subscribed' || type === 'unsubscribed' || type === 'unsubscribe' || type === 'error') return true;
    const contact = this.#state.contacts[jid];
    if (!contact || jid === bare(this.#state.me.jid)) return true;
    const resources = { ...contact.resources };
    const res = resourceOf(from);
    if (type === 'unavailable') delete resources[res];
    else {
      const show = text(child(p, 'show'));
      resources[res] = {
        show: show === 'away' || show === 'dnd' || show === 'xa' ? show : 'available',
        status: text(child(p, 'status')) || undefined,
        priority: Number(text(child(p, 'priority')) || 0),
        inCall: child(p, IN_CALL_ELEMENT, PARLEY_NS.call) !== undefined,
      };
    }
    this.#set({ contacts: { ...this.#state.contacts, [jid]: { ...contact, resources } } });
    return true;
  }

  #onRoomPresence(p: Element, roomJid: string): boolean {
    const room = this.#state.rooms[roomJid];
    const nick = resourceOf(p.getAttribute('from') ?? '');
    const type = p.getAttribute('type');
    if (type === 'error') {
      const cond = p.getElementsByTagName('error')[0]?.firstElementChild?.localName;
      this.#setRoom(roomJid, { ...room, joined: false, error: cond === 'registration-required' ? 'This group is for members only; ask someone in it to invite you.' : `Could not join (${cond ?? 'error'})` });
      return true;
    }
    const x = child(p, 'x', NS.mucUser);
    const item = x && child(x, 'item');
    const codes = x ? Array.from(x.getElementsByTagName('status')).map((s) => s.getAttribute('code')) : [];
    const occupants = { ...room.occupants };
    if (type === 'unavailable') {
      delete occupants[nick];
      if (codes.includes('110')) {
        const kicked = codes.includes('307');
        this.#setRoom(roomJid, { ...room, occupants: {}, joined: false, error: kicked ? 'You were removed from this group by a moderator.' : undefined });
        // 332: the server hosting the group went away (XEP-0045 §10.9); it lives on elsewhere, so
        // join again, a little apart from everyone else it happened to.
        if (codes.includes('332')) {
          window.setTimeout(() => {
            if (!this.#stopped && this.#state.status === 'online' && !this.#state.rooms[roomJid]?.joined) this.joinRoom(roomJid, room.name);
          }, 300 + Math.random() * 700);
        }
        return true;
      }
    } else {
      const show = text(child(p, 'show'));
      occupants[nick] = { jid: item?.getAttribute('jid') ?? undefined, role: item?.getAttribute('role') ?? 'participant', affiliation: item?.getAttribute('affiliation') ?? 'none', show: show === 'away' || show === 'dnd' || show === 'xa' ? show : 'available' };
    }
    const joinedNow = codes.includes('110') && type !== 'unavailable';
    this.#setRoom(roomJid, { ...room, occupants, joined: room.joined || joinedNow, nick: joinedNow ? nick : room.nick });
    if (joinedNow) {
      const cb = this.#onJoined.get(roomJid);
      this.#onJoined.delete(roomJid);
      cb?.();
    }
    return true;
  }

  #onMessage(stanza: Element): boolean {
    if (child(stanza, 'result', NS.mam)) return true; // archive results are collected by their query
    let m = stanza;
    let carbon: 'sent' | 'received' | undefined;
    const sent = child(stanza, 'sent', NS.carbons);
    const received = child(stanza, 'received', NS.carbons);
    if ((sent || received) && bare(stanza.getAttribute('from') ?? '') === bare(this.#state.me.jid)) {
      const inner = child(child((sent ?? received)!, 'forwarded', NS.forward)!, 'message');
      if (!inner) return true;
      m = inner;
      carbon = sent ? 'sent' : 'received';
    }
    const from = m.getAttribute('from') ?? '';
    const type = m.getAttribute('type') ?? 'normal';
    const me = bare(this.#state.me.jid);
    // Invitations to group chats.
    const mucX = child(m, 'x', NS.mucUser);
    const invite = mucX && child(mucX, 'invite');
    if (invite || (child(m, 'x', NS.conference) && !text(child(m, 'body')).startsWith('http'))) {
      const room = invite ? bare(from) : child(m, 'x', NS.conference)!.getAttribute('jid')!;
      if (!this.#state.rooms[room] && !this.#state.invitations.some((i) => i.room === room)) {
        this.#set({ invitations: [...this.#state.invitations, { room, from: bare(invite?.getAttribute('from') ?? from), reason: text(invite && child(invite, 'reason')) || undefined }] });
        // Say which group by its name, not its address ("weekend-plans-9xvn").
        void this.#roomName(room).then((name) => {
          if (name) this.#set({ invitations: this.#state.invitations.map((i) => (i.room === room ? { ...i, name } : i)) });
        });
      }
      return true;
    }
    if (type === 'error') {
      const id = m.getAttribute('id');
      const conv = this.#state.conversations[bare(from)];
      if (id && conv) this.#updateConversation(conv.jid, { messages: conv.messages.map((x) => (x.id === id ? { ...x, error: errorText(m) } : x)) });
      return true;
    }
    if (type === 'groupchat') return this.#onGroupchat(m, from);
    const outgoing = carbon === 'sent' || bare(from) === me;
    const peer = outgoing ? bare(m.getAttribute('to') ?? '') : bare(from);
    if (!peer || peer === me) return true;
    // Receipts and markers for what we sent.
    const receipt = child(m, 'received', NS.receipts)?.getAttribute('id');
    const displayed = child(m, 'displayed', NS.markers)?.getAttribute('id');
    if ((receipt || displayed) && !outgoing) {
      const conv = this.#state.conversations[peer];
      if (conv) {
        const target = receipt ?? displayed;
        this.#updateConversation(peer, {
          messages: conv.messages.map((x) => (x.id === target && x.direction === 'out' ? { ...x, receipt: displayed ? 'read' : x.receipt === 'read' ? 'read' : 'delivered' } : x)),
        });
      }
    }
    // Chat states.
    if (!outgoing) {
      const composing = child(m, 'composing', NS.chatStates);
      const stopped = child(m, 'paused', NS.chatStates) ?? child(m, 'active', NS.chatStates) ?? child(m, 'inactive', NS.chatStates) ?? child(m, 'gone', NS.chatStates);
      if (composing || stopped) {
        const conv = this.#conversation(peer);
        const typing = composing ? [...new Set([...conv.typing, peer])] : conv.typing.filter((t) => t !== peer);
        this.#updateConversation(peer, { typing });
      }
    }
    const body = text(child(m, 'body'));
    if (!body) return true;
    const delay = child(m, 'delay', NS.delay)?.getAttribute('stamp');
    const archiveId = Array.from(m.getElementsByTagNameNS(NS.sid, 'stanza-id')).find((s) => s.getAttribute('by') === me)?.getAttribute('id');
    const id = m.getAttribute('id') ?? undefined;
    const msg: ChatMessage = {
      key: archiveId ?? id ?? newId(),
      id,
      from: bare(from),
      body,
      stamp: delay ? Date.parse(delay) || Date.now() : Date.now(),
      direction: outgoing ? 'out' : 'in',
      file: fileOf(m, body),
    };
    this.#addMessage(peer, msg);
    if (!outgoing) {
      if (child(m, 'request', NS.receipts) && id) this.#conn?.send($msg({ to: from, type: 'chat' }).c('received', { xmlns: NS.receipts, id }));
      this.#afterIncoming(peer, msg);
    }
    return true;
  }

  #onGroupchat(m: Element, from: string): boolean {
    const roomJid = bare(from);
    const room = this.#state.rooms[roomJid];
    if (!room) return true;
    const body = text(child(m, 'body'));
    if (!body) return true;
    const nick = resourceOf(from);
    const archiveId = Array.from(m.getElementsByTagNameNS(NS.sid, 'stanza-id')).find((s) => s.getAttribute('by') === roomJid)?.getAttribute('id');
    const delay = child(m, 'delay', NS.delay)?.getAttribute('stamp');
    const msg: ChatMessage = {
      key: archiveId ?? m.getAttribute('id') ?? newId(),
      id: m.getAttribute('id') ?? undefined,
      from: nick,
      body,
      stamp: delay ? Date.parse(delay) || Date.now() : Date.now(),
      direction: nick === room.nick ? 'out' : 'in',
      file: fileOf(m, body),
    };
    this.#addMessage(roomJid, msg);
    if (msg.direction === 'in' && !delay) this.#afterIncoming(roomJid, msg);
    return true;
  }

  #afterIncoming(conversation: string, msg: ChatMessage): void {
    const visible = this.#activeConversation === conversation && !document.hidden;
    if (visible) this.#sendDisplayedMarker(conversation);
    else this.#updateConversation(conversation, { unread: this.#conversation(conversation).unread + 1 });
    this.emit('incoming', conversation, msg);
  }

  #sendDisplayedMarker(jid: string): void {
    const conv = this.#state.conversations[jid];
    if (!conv || conv.kind !== 'chat') return;
    const last = [...conv.messages].reverse().find((m) => m.direction === 'in' && m.id);
    if (last) this.#conn?.send($msg({ to: jid, type: 'chat' }).c('displayed', { xmlns: NS.markers, id: last.id! }));
  }

  /** The page became visible again: what is on screen has been read. */
  markActiveRead(): void {
    const jid = this.#activeConversation;
    if (!jid) return;
    if (this.#conversation(jid).unread) this.#updateConversation(jid, { unread: 0 });
    this.#sendDisplayedMarker(jid);
  }

  // ---- state -----------------------------------------------------------------------------

  #kindOf(jid: string): 'chat' | 'groupchat' {
    return this.#state.rooms[jid] || isGroupChatJid(jid) ? 'groupchat' : 'chat';
  }

  #conversation(jid: string, kind = this.#kindOf(jid)): Conversation {
    const existing = this.#state.conversations[jid];
    if (existing) return existing;
    const conv: Conversation = { jid, kind, messages: [], unread: 0, typing: [], historyComplete: false, loadingHistory: false };
    this.#set({ conversations: { ...this.#state.conversations, [jid]: conv } });
    return conv;
  }

  #addMessage(jid: string, msg: ChatMessage): void {
    const conv = this.#conversation(jid);
    // The same message can arrive live, as carbon, offline and from the archive: keep one.
    if (conv.messages.some((x) => x.key === msg.key || (msg.id && x.id === msg.id && x.direction === msg.direction && x.body === msg.body))) return;
    const messages = [...conv.messages, msg];
    if (messages.length > 1 && messages[messages.length - 2].stamp > msg.stamp) messages.sort((a, b) => a.stamp - b.stamp);
    this.#updateConversation(jid, { messages, typing: msg.direction === 'in' ? conv.typing.filter((t) => t !== msg.from) : conv.typing });
  }

  #updateConversation(jid: string, patch: Partial<Conversation>): void {
    const conv = this.#conversation(jid);
    this.#set({ conversations: { ...this.#state.conversations, [jid]: { ...conv, ...patch } } });
  }

  #setRoom(jid: string, room: RoomState): void {
    this.#set({ rooms: { ...this.#state.rooms, [jid]: room } });
  }

  #set(patch: Partial<ChatState>): void {
    this.#state = { ...this.#state, ...patch };
    this.emit('change', this.#state);
  }
}

function emptyState(): ChatState {
  return { status: 'offline', me: { jid: '', show: 'available', status: '' }, contacts: {}, requests: [], requestNames: {}, conversations: {}, rooms: {}, invitations: [] };
}

function fileOf(m: Element, body: string): ChatMessage['file'] {
  const oob = child(m, 'x', NS.oob);
  const url = oob ? text(child(oob, 'url')) : '';
  if (!url || url !== body.trim()) return undefined;
  const name = decodeURIComponent(url.split('/').pop() ?? 'file');
  return { url, name, image: IMAGE.test(name) };
}

function errorText(e: Element): string {
  const err = e.getElementsByTagName('error')[0];
  const t = err?.getElementsByTagName('text')[0]?.textContent;
  if (t) return t;
  return err?.firstElementChild?.localName?.replace(/-/g, ' ') ?? 'error';
}

export function formatSize(n: number): string {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MB`;
  if (n >= 1024) return `${Math.round(n / 1024)} KB`;
  return `${n} bytes`;
}

/** A contact's best presence across resources (highest priority, then most available). */
export function presenceOf(c: Contact | undefined): ResourcePresence {
  const list = Object.values(c?.resources ?? {});
  if (!list.length) return { show: 'offline', priority: 0, inCall: false };
  const rank: Record<Show, number> = { available: 4, away: 2, xa: 1, dnd: 3, offline: 0 };
  return list.sort((a, b) => Number(b.inCall) - Number(a.inCall) || b.priority - a.priority || rank[b.show] - rank[a.show])[0];
}
