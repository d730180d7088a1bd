/**
 * A meeting link (/meet/<name>, optionally ?guest=<token>): sign in or use the guest link,
 * the pre-join screen, the meeting, and what comes after leaving.
 */
import { useEffect, useMemo, useState } from 'react';
import { api, ApiError, type ConferenceInfo, type GuestAccess, type Profile } from '../../api/apiClient';
import { MeetingClient } from '../../meeting/meetingClient';
import { navigate } from '../../navigation';
import { LoginScreen } from '../LoginScreen';
import { MeetingRoom } from './MeetingRoom';
import { PreJoin, type PreJoinChoice } from './PreJoin';

export type Step =
  | { kind: 'loading' }
  | { kind: 'sign-in' }
  | { kind: 'problem'; message: string }
  | { kind: 'prejoin'; info: ConferenceInfo; error?: string; joining?: boolean }
  | { kind: 'meeting' }
  | { kind: 'left' };

interface Props {
  name: string;
  /** How a guest gets in: a guest link's token, or (embedded) an embed key and the host page's origin. */
  access?: GuestAccess;
  profile?: Profile;
  /** Embedded: the client the host page's commands drive. */
  client?: MeetingClient;
  /** Embedded: the guest's name, set by the host page. */
  presetName?: string;
  /** Embedded without pre-join: join with camera and microphone on as soon as allowed. */
  autoJoin?: boolean;
  /** Called when the step changes (embedding reports errors and leaving). */
  onStep?: (step: Step) => void;
}

export function MeetingPage({ name, access = {}, profile: initialProfile, client: givenClient, presetName, autoJoin, onStep }: Props) {
  const [profile, setProfile] = useState<Profile | undefined>(initialProfile);
  const [step, setStep] = useState<Step>({ kind: 'loading' });
  const client = useMemo(() => givenClient ?? new MeetingClient(), [givenClient]);
  const hasGuestAccess = Boolean(access.guestToken || access.embedKey);
  const guest = !profile && hasGuestAccess;
  const accessKey = `${access.guestToken ?? ''} ${access.embedKey ?? ''} ${access.embedOrigin ?? ''}`;

  // Who am I, and may I join?
  useEffect(() => {
    let cancelled = false;
    (async () => {
      let me = profile;
      if (!me) me = await api.me().catch(() => undefined);
      if (cancelled) return;
      if (me && me !== profile) setProfile(me);
      if (!me && !hasGuestAccess) {
        setStep({ kind: 'sign-in' });
        return;
      }
      try {
        const info = await api.conference(name, me ? {} : access);
        if (cancelled) return;
        if (autoJoin && (me || presetName)) void join({ micOn: true, cameraOn: true, displayName: me ? undefined : presetName }, info);
        else setStep({ kind: 'prejoin', info });
      } catch (err) {
        if (!cancelled) setStep({ kind: 'problem', message: err instanceof ApiError ? err.message : 'Cannot reach Parley. Check your connection.' });
      }
    })();
    return () => {
      cancelled = true;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps -- accessKey stands for access
  }, [name, accessKey, profile, autoJoin]);

  useEffect(() => onStep?.(step), [step, onStep]);

  useEffect(() => {
    document.title = step.kind === 'prejoin' ? `${step.info.title} · Parley` : 'Meeting · Parley';
  }, [step]);

  // Leaving the page (closing the tab) leaves the meeting promptly.
  useEffect(() => {
    const onHide = () => void client.leave();
    window.addEventListener('pagehide', onHide);
    (window as unknown as { parleyMeeting?: MeetingClient }).parleyMeeting = client;
    return () => window.removeEventListener('pagehide', onHide);
  }, [client]);

  async function join(choice: PreJoinChoice, info: ConferenceInfo) {
    setStep({ kind: 'prejoin', info, joining: true });
    const unsubscribe = client.on('state', (s) => {
      if (s.phase === 'joined') {
        unsubscribe();
        setStep({ kind: 'meeting' });
      }
      if (s.phase === 'failed') {
        unsubscribe();
        choice.micTrack?.stop();
        choice.cameraTrack?.stop();
        setStep({ kind: 'prejoin', info, error: s.message });
      }
    });
    // The first attempt shows progress on the pre-join screen; later ones in the meeting.
    void client.join({ name, access: profile ? undefined : access, ...choice });
  }

  switch (step.kind) {
    case 'loading':
      return (
        <div className="center-screen" role="status" aria-live="polite">
          <div className="spinner" aria-hidden="true" />
          <p>Opening the meeting…</p>
        </div>
      );
    case 'sign-in':
      return (
        <LoginScreen
          notice={`Sign in to join the meeting “${name}”. No account? Ask the organiser for a guest link.`}
          onSignedIn={(p) => setProfile(p)}
        />
      );
    case 'problem':
      return (
        <div className="center-screen">
          <div className="card narrow-card">
            <h1>Cannot join this meeting</h1>
            <p>{step.message}</p>
            {profile && (
              <button className="btn btn-primary" onClick={() => navigate('/')}>
                Back to Parley
              </button>
            )}
          </div>
        </div>
      );
    case 'prejoin':
      return (
        <PreJoin
          info={step.info}
          myName={profile?.user.displayName ?? presetName}
          guest={guest}
          joining={Boolean(step.joining)}
          error={step.error}
          onJoin={(choice) => void join(choice, step.info)}
          onCancel={profile ? () => navigate('/') : undefined}
        />
      );
    case 'meeting':
      return <MeetingRoom client={client} onLeft={() => setStep({ kind: 'left' })} />;
    case 'left':
      return (
        <div className="center-screen">
          <div className="card narrow-card" role="status">
            <h1>You left the meeting</h1>
            <div className="modal-actions">
              <button className="btn" onClick={() => location.reload()}>
                Rejoin
              </button>
              {profile && (
                <button className="btn btn-primary" onClick={() => navigate('/')}>
                  Back to Parley
                </button>
              )}
            </div>
          </div>
        </div>
      );
  }
}
