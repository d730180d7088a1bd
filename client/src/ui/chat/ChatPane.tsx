/** One conversation: history (scroll up for more), typing, receipts, files, and calling. */
import { useEffect, useLayoutEffect, useRef, useState, type KeyboardEvent } from 'react';
import { presenceOf, formatSize, type ChatClient, type ChatMessage, type ChatState } from '../../xmpp/chatClient';
import { Icon } from '../Icon';
import { displayName } from './ChatSidebar';
import { PresenceDot, presenceLabel } from './PresenceDot';
import { linkParts } from '../../util/links';

interface Props {
  chat: ChatClient;
  state: ChatState;
  jid: string;
  onBack: () => void;
  onCall: (username: string, video: boolean) => void;
  callDisabled: boolean;
}

function time(ts: number): string {
  return new Date(ts).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

function day(ts: number): string {
  const d = new Date(ts);
  const today = new Date();
  if (d.toDateString() === today.toDateString()) return 'Today';
  const y = new Date(today.getTime() - 86_400_000);
  if (d.toDateString() === y.toDateString()) return 'Yesterday';
  return d.toLocaleDateString([], { weekday: 'long', day: 'numeric', month: 'long' });
}

export function ChatPane({ chat, state, jid, onBack, onCall, callDisabled }: Props) {
  const conv = state.conversations[jid];
  const room = state.rooms[jid];
  const contact = state.contacts[jid];
  const name = displayName(state, jid);
  const [draft, setDraft] = useState('');
  const [upload, setUpload] = useState<{ name: string; progress: number } | undefined>();
  const [error, setError] = useState<string>();
  const [showMembers, setShowMembers] = useState(false);
  const [inviting, setInviting] = useState('');
  const listRef = useRef<HTMLDivElement>(null);
  const fileRef = useRef<HTMLInputElement>(null);
  const stickToBottom = useRef(true);
  const prevHeight = useRef(0);

  useEffect(() => {
    chat.openConversation(jid);
    stickToBottom.current = true;
    return () => chat.openConversation(undefined);
  }, [chat, jid]);

  // Keep the view at the bottom for new messages, and in place when older ones are prepended.
  const messages = conv?.messages ?? [];
  useLayoutEffect(() => {
    const el = listRef.current;
    if (!el) return;
    if (stickToBottom.current) el.scrollTop = el.scrollHeight;
    else if (prevHeight.current && el.scrollHeight > prevHeight.current && el.scrollTop < 50) el.scrollTop += el.scrollHeight - prevHeight.current;
    prevHeight.current = el.scrollHeight;
  }, [messages.length, conv?.typing.length]);

  function onScroll() {
    const el = listRef.current!;
    stickToBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
    if (el.scrollTop < 60 && conv && !conv.historyComplete && !conv.loadingHistory) {
      prevHeight.current = el.scrollHeight;
      void chat.loadHistory(jid);
    }
  }

  function send() {
    const body = draft.trim();
    if (!body) return;
    stickToBottom.current = true;
    chat.sendMessage(jid, body);
    setDraft('');
  }

  function onKey(e: KeyboardEvent<HTMLTextAreaElement>) {
    if (e.key === 'Enter' && !e.shiftKey) {
      e.preventDefault();
      send();
    }
  }

  async function attach(file: File | undefined) {
    if (!file) return;
    setError(undefined);
    setUpload({ name: file.name, progress: 0 });
    stickToBottom.current = true;
    try {
      await chat.sendFile(jid, file, (progress) => setUpload({ name: file.name, progress }));
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setUpload(undefined);
      if (fileRef.current) fileRef.current.value = '';
    }
  }

  const p = presenceOf(contact);
  const username = jid.split('@')[0];
  const canChat = room ? room.joined : contact && (contact.subscription === 'both' || contact.subscription === 'to' || contact.subscription === 'from');
  const typing = conv?.typing.map((t) => (room ? t : displayName(state, t))) ?? [];

  return (
    <section className="chat-pane" aria-label={`Conversation with ${name}`} data-testid="chat-pane">
      <header className="chat-head">
        <button className="btn btn-ghost btn-small back" onClick={onBack} aria-label="Back to the list">
          ←
        </button>
        {room ? (
          <span className="group-icon" aria-hidden="true">
            #
          </span>
        ) : (
          <PresenceDot show={p.show} inCall={p.inCall} unknown={state.status !== 'online'} />
        )}
        <div className="chat-title">
          <h2>{name}</h2>
          <span className="muted small" data-testid="chat-presence">
            {room ? `${Object.keys(room.occupants).length} here` : contact ? presenceLabel(p.show, p.inCall, p.status, state.status !== 'online') : ''}
          </span>
        </div>
        <div className="chat-actions">
          {room ? (
            <>
              <button className="btn btn-small" onClick={() => setShowMembers(!showMembers)} aria-expanded={showMembers}>
                Members
              </button>
              <button className="btn btn-small btn-ghost" onClick={() => chat.leaveRoom(jid)}>
                Leave
              </button>
            </>
          ) : (
            <>
              <button className="btn btn-small" onClick={() => onCall(username, false)} disabled={callDisabled} aria-label={`Audio call ${name}`}>
                <Icon name="phone" size={16} /> <span className="hide-narrow">Call</span>
              </button>
              <button className="btn btn-small btn-primary" onClick={() => onCall(username, true)} disabled={callDisabled} aria-label={`Video call ${name}`}>
                <Icon name="camera" size={16} /> <span className="hide-narrow">Video</span>
              </button>
            </>
          )}
        </div>
      </header>

      {room?.error && <p className="notice">{room.error}</p>}
      {!room && contact && contact.ask && contact.subscription === 'none' && <p className="notice">Waiting for {name} to accept your contact request.</p>}

      <div className="chat-body">
        <div className="messages" ref={listRef} onScroll={onScroll} role="log" aria-live="polite" aria-label="Messages" data-testid="messages">
          {conv?.loadingHistory && <p className="muted small center">Loading earlier messages…</p>}
          {conv?.historyComplete && messages.length > 0 && <p className="muted small center">This is the beginning of the conversation.</p>}
          {messages.length === 0 && !conv?.loadingHistory && <p className="muted center">No messages yet. Say hello!</p>}
          {messages.map((m, i) => (
            <MessageRow key={m.key} m={m} showDay={i === 0 || day(messages[i - 1].stamp) !== day(m.stamp)} room={Boolean(room)} />
          ))}
        </div>
        {showMembers && room && (
          <aside className="members" aria-label="Members">
            <h3 className="list-title">In this group</h3>
            <ul className="plain-list" data-testid="members">
              {Object.entries(room.occupants).map(([nick, o]) => (
                <li key={nick}>
                  <PresenceDot show={o.show} /> {nick}
                  {o.role === 'moderator' && <span className="muted small"> · moderator</span>}
                </li>
              ))}
            </ul>
            <form
              onSubmit={(e) => {
                e.preventDefault();
                if (inviting.trim()) chat.invite(jid, inviting.trim().toLowerCase());
                setInviting('');
              }}
            >
              <label>
                Invite someone
                <input value={inviting} onChange={(e) => setInviting(e.target.value)} placeholder="username" />
              </label>
              <button className="btn btn-small" type="submit">
                Invite
              </button>
            </form>
          </aside>
        )}
      </div>

      <p className="typing" aria-live="polite" data-testid="typing">
        {typing.length ? `${typing.join(', ')} ${typing.length > 1 ? 'are' : 'is'} typing…` : ''}
      </p>
      {upload && (
        <div className="upload-progress" role="status">
          Sending {upload.name}… {Math.round(upload.progress * 100)}%
          <progress max={1} value={upload.progress} />
        </div>
      )}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <form
        className="composer"
        onSubmit={(e) => {
          e.preventDefault();
          send();
        }}
      >
        {state.uploadMaxBytes !== undefined && (
          <>
            <input ref={fileRef} type="file" className="sr-only" id={`file-${jid}`} onChange={(e) => void attach(e.target.files?.[0])} disabled={!canChat} />
            <label htmlFor={`file-${jid}`} className={`btn btn-ghost attach ${!canChat ? 'disabled' : ''}`} title={`Send a file (up to ${formatSize(state.uploadMaxBytes)})`}>
              <Icon name="attach" size={20} />
              <span className="sr-only">Send a file</span>
            </label>
          </>
        )}
        <label className="sr-only" htmlFor={`compose-${jid}`}>
          Message
        </label>
        <textarea
          id={`compose-${jid}`}
          rows={1}
          placeholder={canChat ? `Message ${name}` : room ? 'Join the group to write' : 'You can write once they accept'}
          value={draft}
          disabled={!canChat}
          onChange={(e) => {
            setDraft(e.target.value);
            chat.typing(jid);
          }}
          onKeyDown={onKey}
        />
        <button className="btn btn-primary" type="submit" disabled={!canChat || !draft.trim()}>
          Send
        </button>
      </form>
    </section>
  );
}

function MessageRow({ m, showDay, room }: { m: ChatMessage; showDay: boolean; room: boolean }) {
  return (
    <>
      {showDay && <div className="day-separator">{day(m.stamp)}</div>}
      <div className={`msg msg-${m.direction}`} data-testid="message" data-direction={m.direction}>
        {room && m.direction === 'in' && <span className="msg-from">{m.from}</span>}
        {m.file ? (
          m.file.image ? (
            <a href={m.file.url} target="_blank" rel="noopener noreferrer" className="msg-image-link">
              <img src={m.file.url} alt={m.file.name} className="msg-image" loading="lazy" data-testid="image-preview" />
            </a>
          ) : (
            <a href={m.file.url} target="_blank" rel="noopener noreferrer" className="msg-file">
              <Icon name="file" size={16} /> {m.file.name}
            </a>
          )
        ) : (
          <span className="msg-body">
            {linkParts(m.body).map((part, i) =>
              part.href ? (
                <a key={i} href={part.href} target="_blank" rel="noopener noreferrer nofollow">
                  {part.text}
                </a>
              ) : (
                part.text
              ),
            )}
          </span>
        )}
        <span className="msg-meta">
          {time(m.stamp)}
          {m.direction === 'out' && !room && (
            <span className="receipt" data-testid="receipt">
              {m.error ? '' : m.receipt === 'read' ? ' · Read' : m.receipt === 'delivered' ? ' · Delivered' : ' · Sent'}
            </span>
          )}
        </span>
        {m.error && <span className="msg-error">Not delivered: {m.error}</span>}
      </div>
    </>
  );
}
