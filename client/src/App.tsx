/**
 * Top level: sign-in, then the phone for the signed-in user; /meet/<name> opens a meeting,
 * /embed/<type> a widget page.
 *
 * client/ owns what runs in the browser: the React app (client/src: SIP calls with JsSIP,
 * chat with strophe.js, meetings with mediasoup-client) and widget.js for other sites
 * (client/widget). It shares only contracts/ with the servers.
 */
import { useCallback, useEffect, useMemo, useState } from 'react';
import { api, ApiError, type Profile } from './api/apiClient';
import { Phone } from './sip/phone';
import { ChatClient } from './xmpp/chatClient';
import { HomeScreen } from './ui/HomeScreen';
import { LoginScreen } from './ui/LoginScreen';
import { MeetingPage } from './ui/meeting/MeetingPage';
import { meetingNameOf, useLocation } from './navigation';
import { EmbedApp, embedTypeOf } from './embed/EmbedApp';

type AuthState = { status: 'loading' } | { status: 'signed-out'; notice?: string } | { status: 'signed-in'; profile: Profile };

export function App() {
  const { pathname, search } = useLocation();
  const embed = embedTypeOf(pathname);
  if (embed) return <EmbedApp type={embed} search={search} />;
  const meeting = meetingNameOf(pathname);
  if (meeting) return <MeetingPage key={meeting} name={meeting} access={{ guestToken: new URLSearchParams(search).get('guest') ?? undefined }} />;
  return <MainApp />;
}

/** Sign-in, then calls, chat and meetings. */
function MainApp() {
  const [auth, setAuth] = useState<AuthState>({ status: 'loading' });
  const phone = useMemo(() => new Phone(), []);
  const chat = useMemo(() => new ChatClient(), []);

  useEffect(() => {
    api
      .me()
      .then((profile) => setAuth({ status: 'signed-in', profile }))
      .catch((err) => setAuth({ status: 'signed-out', notice: err instanceof ApiError && err.status !== 401 ? err.message : undefined }));
  }, []);

  useEffect(() => {
    if (auth.status !== 'signed-in') return;
    let cancelled = false;
    api
      .iceServers()
      .catch(() => ({ iceServers: [], iceTransportPolicy: undefined }))
      .then(({ iceServers, iceTransportPolicy }) => {
        if (!cancelled) phone.start(auth.profile, iceServers, iceTransportPolicy);
      });
    chat.start(auth.profile, { transport: new URLSearchParams(location.search).get('xmpp') === 'bosh' ? 'bosh' : 'websocket' });
    const off = phone.on('authFailed', () => {
      // The session behind the SIP credential is gone: check and, if so, ask to sign in again.
      api.me().catch(() => setAuth({ status: 'signed-out', notice: 'Your session has expired. Please sign in again.' }));
    });
    return () => {
      cancelled = true;
      off();
      phone.stop();
      chat.stop();
    };
  }, [auth, phone, chat]);

  const signOut = useCallback(async () => {
    phone.stop();
    chat.stop();
    const out = await api.logout().catch(() => undefined);
    // Signed in at the organisation's identity provider: sign out there too (it comes back here).
    if (out?.idpLogoutUrl) return location.assign(out.idpLogoutUrl);
    setAuth({ status: 'signed-out' });
  }, [phone, chat]);

  if (auth.status === 'loading') {
    return (
      <div className="center-screen" role="status" aria-live="polite">
        <div className="spinner" aria-hidden="true" />
        <p>Loading Parley…</p>
      </div>
    );
  }
  if (auth.status === 'signed-out') {
    return <LoginScreen notice={auth.notice} onSignedIn={(profile) => setAuth({ status: 'signed-in', profile })} />;
  }
  return <HomeScreen profile={auth.profile} phone={phone} chat={chat} onSignOut={signOut} />;
}
