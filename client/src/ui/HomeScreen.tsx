/** The signed-in app: chats and calls side by side, the call in progress on top. */
import { useEffect, useRef, useState } from 'react';
import { api, type Profile } from '../api/apiClient';
import { navigate, useLocation } from '../navigation';
import { useChatState } from '../hooks/useChat';
import { usePhoneState } from '../hooks/usePhone';
import type { Phone } from '../sip/phone';
import type { ChatClient } from '../xmpp/chatClient';
import { CallScreen } from './CallScreen';
import { CallsPanel } from './CallsPanel';
import { ChatPane } from './chat/ChatPane';
import { ChatSidebar, displayName } from './chat/ChatSidebar';
import { MyPresence } from './chat/MyPresence';
import { Icon } from './Icon';
import { IncomingCall } from './IncomingCall';
import { MeetingsPanel } from './meeting/MeetingsPanel';
import { RegistrationBadge } from './RegistrationBadge';
import { DevicesDialog } from './DevicesDialog';
import { SettingsDialog } from './SettingsDialog';

interface Props {
  profile: Profile;
  phone: Phone;
  chat: ChatClient;
  onSignOut: () => void;
}

type Tab = 'chats' | 'calls' | 'meetings';
const TABS: Array<{ id: Tab; label: string }> = [
  { id: 'chats', label: 'Chats' },
  { id: 'calls', label: 'Calls' },
  { id: 'meetings', label: 'Meetings' },
];

/** Each view has its own address (/chats, /calls, /meetings; / is the chats), so it can be bookmarked and Back works. */
function tabOf(pathname: string): Tab {
  const name = pathname.replace(/^\/+|\/+$/g, '');
  return TABS.find((t) => t.id === name)?.id ?? 'chats';
}

export function HomeScreen({ profile, phone, chat, onSignOut }: Props) {
  const { registration, detail, call } = usePhoneState(phone);
  const chatState = useChatState(chat);
  const tab = tabOf(useLocation().pathname);
  const setTab = (next: Tab) => {
    if (next !== tab) navigate(`/${next}`);
  };
  const [selected, setSelected] = useState<string>();
  const [toast, setToast] = useState<string | undefined>();
  const [settingsOpen, setSettingsOpen] = useState(false);
  const [devicesOpen, setDevicesOpen] = useState(false);
  const [dialError, setDialError] = useState<string | undefined>();
  const [callsVersion, setCallsVersion] = useState(0);
  const toastTimer = useRef<number | undefined>(undefined);

  // When a call ends: say why, refresh the log, and clear the call a moment later.
  useEffect(() => {
    if (call?.phase !== 'ended') return;
    setToast(call.endMessage);
    setCallsVersion((v) => v + 1);
    window.clearTimeout(toastTimer.current);
    toastTimer.current = window.setTimeout(() => setToast(undefined), 6000);
    const t = window.setTimeout(() => phone.dismiss(), 1500);
    return () => window.clearTimeout(t);
    // eslint-disable-next-line react-hooks/exhaustive-deps -- react only to the end of a call
  }, [call?.phase, call?.id]);

  // A new call (made or ringing) clears the last one's message, which would cover its buttons.
  useEffect(() => {
    if (call && call.phase !== 'ended') setToast(undefined);
  }, [call?.id]); // eslint-disable-line react-hooks/exhaustive-deps -- only when another call begins

  // Unread count in the title; a notification when a message arrives while Parley is hidden.
  const unread = Object.values(chatState.conversations).reduce((n, c) => n + c.unread, 0);
  useEffect(() => {
    const view = TABS.find((t) => t.id === tab)!.label;
    document.title = `${unread ? `(${unread}) ` : ''}${view} · Parley`;
  }, [unread, tab]);
  useEffect(() => {
    const off = chat.on('incoming', (conv, m) => {
      if (!document.hidden || !('Notification' in window) || Notification.permission !== 'granted') return;
      const n = new Notification(displayName(chat.state, conv), { body: m.file ? `Sent ${m.file.name}` : m.body.slice(0, 140), tag: conv });
      n.onclick = () => {
        window.focus();
        setTab('chats');
        setSelected(conv);
      };
    });
    const onVisible = () => !document.hidden && chat.markActiveRead();
    document.addEventListener('visibilitychange', onVisible);
    return () => {
      off();
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, [chat]);

  /** The display name of the person called: a contact's, else the directory's (not waited for long). */
  async function nameOf(target: string): Promise<string | undefined> {
    const user = target.trim().replace(/^sip:/i, '').split('@')[0].toLowerCase();
    const known = chatState.contacts[`${user}@${profile.user.domain}`]?.name;
    if (known || !user) return known;
    const lookup = api.users(user).then((r) => r.users.find((u) => u.username === user)?.displayName, () => undefined);
    return Promise.race([lookup, new Promise<undefined>((r) => window.setTimeout(() => r(undefined), 1500))]);
  }

  async function dial(peer: string, video: boolean, name?: string) {
    setDialError(undefined);
    try {
      await phone.placeCall(peer, video, name ?? (await nameOf(peer)));
    } catch (err) {
      setDialError((err as Error).message);
      setToast((err as Error).message);
    }
  }

  const inCall = Boolean(call && call.phase !== 'ended');

  /** The tab bar as the ARIA tabs pattern: arrow keys move to the next tab and open it, Home/End to the ends. */
  function onTabKey(e: React.KeyboardEvent) {
    const i = TABS.findIndex((t) => t.id === tab);
    const moves: Record<string, number> = { ArrowRight: (i + 1) % TABS.length, ArrowLeft: (i + TABS.length - 1) % TABS.length, Home: 0, End: TABS.length - 1 };
    const to = moves[e.key];
    if (to === undefined) return;
    e.preventDefault();
    setTab(TABS[to].id);
    document.getElementById(`tab-${TABS[to].id}`)?.focus();
  }
  const chatBadge = chatState.status === 'online' ? undefined : chatState.status === 'failed' ? 'Chat unavailable' : 'Chat connecting…';
  return (
    <div className={`app ${tab === 'chats' ? 'on-chats' : ''} ${selected && tab === 'chats' ? 'has-selection' : ''}`}>
      <header className="topbar">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true">
            P
          </span>
          <span className="hide-narrow">Parley</span>
        </div>
        <RegistrationBadge state={registration} detail={detail} />
        {chatBadge && (
          <span className="badge badge-connecting" role="status" title={chatState.statusDetail} data-testid="chat-status">
            <span className="badge-dot" aria-hidden="true" />
            {chatBadge}
          </span>
        )}
        <div className="topbar-actions">
          <MyPresence chat={chat} show={chatState.me.show} status={chatState.me.status} />
          <span className="me" title={profile.xmpp.jid}>
            {profile.user.displayName}
          </span>
          <button className="btn btn-ghost btn-small" onClick={() => setDevicesOpen(true)} aria-label="Use a phone or an XMPP client" title="Use a phone or an XMPP client" data-testid="open-devices">
            <Icon name="phone" size={18} />
            <span className="hide-narrow">Phones &amp; apps</span>
          </button>
          <button className="btn btn-ghost btn-small" onClick={() => setSettingsOpen(true)} aria-label="Settings: microphone, camera, speaker, notifications">
            <Icon name="settings" size={18} />
          </button>
          <button className="btn btn-ghost btn-small" onClick={onSignOut}>
            Sign out
          </button>
        </div>
      </header>

      {/* One main landmark holds the sections and their panels; its heading names the open view for screen readers. */}
      <main className="app-main">
      <h1 className="sr-only">{TABS.find((t) => t.id === tab)?.label}</h1>
      <div className="tabs" role="tablist" aria-label="Sections" onKeyDown={onTabKey}>
        {TABS.map((t) => (
          <button
            key={t.id}
            id={`tab-${t.id}`}
            role="tab"
            aria-selected={tab === t.id}
            aria-controls={`panel-${t.id}`}
            tabIndex={tab === t.id ? 0 : -1}
            className={`tab ${tab === t.id ? 'active' : ''}`}
            onClick={() => setTab(t.id)}
          >
            {t.label}
            {t.id === 'chats' && unread ? <span className="badge-count">{unread}</span> : null}
          </button>
        ))}
      </div>

      {tab === 'chats' ? (
        <div className="tab-panel" id="panel-chats" role="tabpanel" aria-labelledby="tab-chats">
        <div className="chat-layout">
          <ChatSidebar chat={chat} state={chatState} selected={selected} onSelect={setSelected} domain={profile.user.domain} />
          {selected && (chatState.contacts[selected] || chatState.rooms[selected] || chatState.conversations[selected]) ? (
            <ChatPane chat={chat} state={chatState} jid={selected} onBack={() => setSelected(undefined)} onCall={(u, v) => void dial(u, v)} callDisabled={inCall} />
          ) : (
            <div className="chat-empty muted">
              <p>Pick a contact or group to chat, or add someone by name.</p>
              {'Notification' in window && Notification.permission === 'default' && (
                <button className="btn" onClick={() => void Notification.requestPermission()}>
                  Notify me of new messages and calls
                </button>
              )}
            </div>
          )}
        </div>
        </div>
      ) : tab === 'calls' ? (
        <div className="tab-panel" id="panel-calls" role="tabpanel" aria-labelledby="tab-calls">
        <div className="home">
          <CallsPanel onCall={dial} inCall={inCall} refreshKey={callsVersion} dialError={dialError} />
        </div>
        </div>
      ) : (
        <div className="tab-panel" id="panel-meetings" role="tabpanel" aria-labelledby="tab-meetings">
        <div className="home">
          <MeetingsPanel />
        </div>
        </div>
      )}
      </main>

      {call && call.phase === 'incoming' && <IncomingCall call={call} phone={phone} />}
      {call && call.phase !== 'incoming' && <CallScreen call={call} phone={phone} />}
      {toast && (
        <div className="toast" role="status" aria-live="polite" data-testid="call-toast">
          {toast}
          <button className="btn btn-ghost btn-small" onClick={() => setToast(undefined)} aria-label="Dismiss">
            <Icon name="close" size={16} />
          </button>
        </div>
      )}
      {settingsOpen && <SettingsDialog onClose={() => setSettingsOpen(false)} />}
      {devicesOpen && <DevicesDialog onClose={() => setDevicesOpen(false)} />}
    </div>
  );
}
