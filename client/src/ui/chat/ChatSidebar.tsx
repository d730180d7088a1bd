/** Contacts with presence, contact requests, group chats and invitations, with unread badges. */
import { useEffect, useState, type FormEvent } from 'react';
import { api, type DirectoryUser } from '../../api/apiClient';
import { presenceOf, type ChatClient, type ChatState } from '../../xmpp/chatClient';
import { NewGroupDialog } from './NewGroupDialog';
import { PresenceDot, presenceLabel } from './PresenceDot';

interface Props {
  chat: ChatClient;
  state: ChatState;
  selected?: string;
  onSelect: (jid: string) => void;
  domain: string;
}

export function displayName(state: ChatState, jid: string): string {
  return state.contacts[jid]?.name || state.rooms[jid]?.name || jid.split('@')[0];
}

export function ChatSidebar({ chat, state, selected, onSelect, domain }: Props) {
  const [adding, setAdding] = useState('');
  const [suggestions, setSuggestions] = useState<DirectoryUser[]>([]);
  const [notice, setNotice] = useState<{ jid: string; text: string }>();
  const [newGroup, setNewGroup] = useState(false);

  useEffect(() => {
    if (!adding.trim()) {
      setSuggestions([]);
      return;
    }
    const t = window.setTimeout(() => {
      api
        .users(adding.trim())
        .then((r) => setSuggestions(r.users.filter((u) => !state.contacts[`${u.username}@${domain}`]).slice(0, 6)))
        .catch(() => setSuggestions([]));
    }, 200);
    return () => window.clearTimeout(t);
  }, [adding, domain, state.contacts]);

  function add(username: string, name?: string) {
    const u = username.trim().toLowerCase();
    if (!u) return;
    chat.addContact(u, name);
    const jid = u.includes('@') ? u : `${u}@${domain}`;
    setNotice({ jid, text: `Contact request sent to ${name ?? u}. You can chat once they accept.` });
    setAdding('');
    setSuggestions([]);
  }

  function submit(e: FormEvent) {
    e.preventDefault();
    const exact = suggestions.find((s) => s.username === adding.trim().toLowerCase());
    add(adding, exact?.displayName);
  }

  const contacts = Object.values(state.contacts).sort((a, b) => displayName(state, a.jid).localeCompare(displayName(state, b.jid)));
  const rooms = Object.values(state.rooms);
  const unread = (jid: string) => state.conversations[jid]?.unread ?? 0;
  // The "request sent" notice lasts while the request is open: gone once they accept.
  const asked = notice && state.contacts[notice.jid];
  const disconnected = state.status !== 'online';
  const showNotice = notice && !(asked && (asked.subscription === 'to' || asked.subscription === 'both'));

  return (
    <nav className="chat-sidebar" aria-label="Chats">
      <form className="add-contact" onSubmit={submit}>
        <label className="sr-only" htmlFor="add-contact">
          Add a contact by name
        </label>
        <input id="add-contact" placeholder="Add a contact…" autoComplete="off" value={adding} onChange={(e) => setAdding(e.target.value)} />
        <button className="btn btn-small" type="submit" disabled={!adding.trim()}>
          Add
        </button>
      </form>
      {suggestions.length > 0 && (
        <ul className="suggestions" aria-label="Matching people">
          {suggestions.map((s) => (
            <li key={s.username}>
              <button className="menu-item" onClick={() => add(s.username, s.displayName)}>
                {s.displayName} <span className="muted">({s.username})</span>
              </button>
            </li>
          ))}
        </ul>
      )}
      {showNotice && (
        <p className="notice small" role="status">
          {notice.text}
        </p>
      )}

      {state.requests.length > 0 && (
        <section aria-labelledby="requests-title">
          <h3 id="requests-title" className="list-title">
            Contact requests
          </h3>
          <ul className="plain-list">
            {state.requests.map((jid) => (
              <li key={jid} className="request" data-testid="contact-request">
                <span>
                  {state.requestNames[jid] ? (
                    <>
                      <strong>{state.requestNames[jid]}</strong> <span className="muted">({jid.split('@')[0]})</span>
                    </>
                  ) : (
                    <strong>{jid.split('@')[0]}</strong>
                  )}{' '}
                  wants to add you
                </span>
                <span className="request-actions">
                  <button className="btn btn-small btn-primary" onClick={() => chat.acceptRequest(jid)}>
                    Accept
                  </button>
                  <button className="btn btn-small" onClick={() => chat.denyRequest(jid)}>
                    Deny
                  </button>
                </span>
              </li>
            ))}
          </ul>
        </section>
      )}

      {state.invitations.length > 0 && (
        <section aria-labelledby="invites-title">
          <h3 id="invites-title" className="list-title">
            Invitations
          </h3>
          <ul className="plain-list">
            {state.invitations.map((inv) => (
              <li key={inv.room} className="request" data-testid="group-invitation">
                <span>
                  <strong>{displayName(state, inv.from)}</strong> invites you to <strong>{inv.name ?? inv.room.split('@')[0]}</strong>
                </span>
                <span className="request-actions">
                  <button
                    className="btn btn-small btn-primary"
                    onClick={() => {
                      chat.joinRoom(inv.room, inv.name);
                      onSelect(inv.room);
                    }}
                  >
                    Join
                  </button>
                  <button className="btn btn-small" onClick={() => chat.declineInvitation(inv.room)}>
                    Ignore
                  </button>
                </span>
              </li>
            ))}
          </ul>
        </section>
      )}

      <section aria-labelledby="groups-title">
        <div className="list-head">
          <h3 id="groups-title" className="list-title">
            Group chats
          </h3>
          <button className="btn btn-ghost btn-small" onClick={() => setNewGroup(true)}>
            + New group
          </button>
        </div>
        {rooms.length === 0 ? (
          <p className="muted small">No group chats yet.</p>
        ) : (
          <ul className="plain-list">
            {rooms.map((r) => (
              <li key={r.jid}>
                <button className={`conv-item ${selected === r.jid ? 'selected' : ''}`} onClick={() => onSelect(r.jid)} aria-current={selected === r.jid}>
                  <span className="group-icon" aria-hidden="true">
                    #
                  </span>
                  <span className="conv-name">{r.name}</span>
                  {unread(r.jid) > 0 && <span className="badge-count" role="img" aria-label={`${unread(r.jid)} unread`}>{unread(r.jid)}</span>}
                </button>
              </li>
            ))}
          </ul>
        )}
      </section>

      <section aria-labelledby="contacts-title">
        <h3 id="contacts-title" className="list-title">
          Contacts
        </h3>
        {contacts.length === 0 ? (
          <p className="muted small">Add people by name above to chat with them and see when they are available.</p>
        ) : (
          <ul className="plain-list" data-testid="contact-list">
            {contacts.map((c) => {
              const p = presenceOf(c);
              const pending = c.subscription === 'none' || c.subscription === 'from';
              return (
                <li key={c.jid}>
                  <button className={`conv-item ${selected === c.jid ? 'selected' : ''}`} onClick={() => onSelect(c.jid)} aria-current={selected === c.jid} data-contact={c.jid.split('@')[0]}>
                    <PresenceDot show={p.show} inCall={p.inCall} unknown={disconnected} />
                    <span className="conv-name">
                      {displayName(state, c.jid)}
                      <span className="conv-status muted" data-testid="contact-status">
                        {pending && c.ask ? 'Waiting for them to accept' : presenceLabel(p.show, p.inCall, p.status, disconnected)}
                      </span>
                    </span>
                    {unread(c.jid) > 0 && (
                      <span className="badge-count" role="img" aria-label={`${unread(c.jid)} unread`} data-testid="unread">
                        {unread(c.jid)}
                      </span>
                    )}
                  </button>
                </li>
              );
            })}
          </ul>
        )}
      </section>
      {newGroup && (
        <NewGroupDialog
          contacts={contacts.map((c) => ({ jid: c.jid, name: displayName(state, c.jid) }))}
          onClose={() => setNewGroup(false)}
          onCreate={(name, members) => {
            const jid = chat.createRoom(name, members);
            setNewGroup(false);
            onSelect(jid);
          }}
        />
      )}
    </nav>
  );
}
