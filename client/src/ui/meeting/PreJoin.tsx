/**
 * The pre-join screen: my camera preview, microphone level, device choice, join muted or
 * not, and (for guests) my name. The tracks opened here go into the meeting unchanged.
 */
import { useEffect, useRef, useState, type FormEvent } from 'react';
import type { ConferenceInfo } from '../../api/apiClient';
import { listDevices, loadDevicePreferences, saveDevicePreferences, type DevicePreferences } from '../../media/devices';
import { mediaError } from '../../meeting/meetingClient';
import { DeviceSelect } from '../DeviceSelect';
import { Icon } from '../Icon';
import { VideoTile } from './VideoTile';

export interface PreJoinChoice {
  micOn: boolean;
  cameraOn: boolean;
  micTrack?: MediaStreamTrack;
  cameraTrack?: MediaStreamTrack;
  displayName?: string;
}

interface Props {
  info: ConferenceInfo;
  myName?: string;
  guest: boolean;
  joining: boolean;
  error?: string;
  onJoin: (choice: PreJoinChoice) => void;
  onCancel?: () => void;
}

const GUEST_NAME_KEY = 'parley.guestName';

export function PreJoin({ info, myName, guest, joining, error, onJoin, onCancel }: Props) {
  const [prefs, setPrefs] = useState<DevicePreferences>(loadDevicePreferences());
  const [devices, setDevices] = useState<Awaited<ReturnType<typeof listDevices>>>();
  const [micTrack, setMicTrack] = useState<MediaStreamTrack>();
  const [cameraTrack, setCameraTrack] = useState<MediaStreamTrack>();
  const [micOn, setMicOn] = useState(true);
  const [cameraOn, setCameraOn] = useState(true);
  const [micProblem, setMicProblem] = useState<string>();
  const [cameraProblem, setCameraProblem] = useState<string>();
  const [name, setName] = useState(() => localStorage.getItem(GUEST_NAME_KEY) ?? '');
  const [level, setLevel] = useState(0);
  /** Tracks given to the meeting: they stay open when this screen goes away. */
  const handedOver = useRef(new Set<MediaStreamTrack>());

  // Microphone: opened once per chosen device, kept until joining (or leaving this screen).
  useEffect(() => {
    let track: MediaStreamTrack | undefined;
    let cancelled = false;
    navigator.mediaDevices
      .getUserMedia({ audio: prefs.microphoneId ? { deviceId: { ideal: prefs.microphoneId } } : true })
      .then(async (s) => {
        track = s.getAudioTracks()[0];
        if (cancelled) return track.stop();
        setMicTrack(track);
        setMicProblem(undefined);
        setDevices(await listDevices());
      })
      .catch((err) => {
        setMicProblem(mediaError(err, 'microphone'));
        setMicOn(false);
      });
    return () => {
      cancelled = true;
      if (track && !handedOver.current.has(track)) track.stop();
    };
  }, [prefs.microphoneId]);

  // Camera: only while it is on, so the camera light tells the truth.
  useEffect(() => {
    if (!cameraOn) return;
    let track: MediaStreamTrack | undefined;
    let cancelled = false;
    navigator.mediaDevices
      .getUserMedia({
        video: { width: { ideal: 1280 }, height: { ideal: 720 }, ...(prefs.cameraId ? { deviceId: { ideal: prefs.cameraId } } : {}) },
      })
      .then(async (s) => {
        track = s.getVideoTracks()[0];
        if (cancelled) return track.stop();
        setCameraTrack(track);
        setCameraProblem(undefined);
        setDevices(await listDevices());
      })
      .catch((err) => {
        setCameraProblem(mediaError(err, 'camera'));
        setCameraOn(false);
      });
    return () => {
      cancelled = true;
      if (track && !handedOver.current.has(track)) track.stop();
      setCameraTrack(undefined);
    };
  }, [cameraOn, prefs.cameraId]);

  // A simple level meter, so people see their microphone works before joining.
  useEffect(() => {
    if (!micTrack || !micOn) {
      setLevel(0);
      return;
    }
    const context = new AudioContext();
    const analyser = context.createAnalyser();
    analyser.fftSize = 512;
    context.createMediaStreamSource(new MediaStream([micTrack])).connect(analyser);
    const data = new Uint8Array(analyser.fftSize);
    const timer = window.setInterval(() => {
      analyser.getByteTimeDomainData(data);
      let peak = 0;
      for (const v of data) peak = Math.max(peak, Math.abs(v - 128));
      setLevel(Math.min(1, peak / 64));
    }, 100);
    return () => {
      window.clearInterval(timer);
      void context.close();
    };
  }, [micTrack, micOn]);

  function update(patch: Partial<DevicePreferences>) {
    const next = { ...prefs, ...patch };
    setPrefs(next);
    saveDevicePreferences(next);
  }

  function submit(e: FormEvent) {
    e.preventDefault();
    if (guest) localStorage.setItem(GUEST_NAME_KEY, name.trim());
    const cameraGiven = cameraOn ? cameraTrack : undefined;
    for (const t of [micTrack, cameraGiven]) if (t) handedOver.current.add(t);
    // The wishes count even if a device is still opening: the meeting opens it then.
    onJoin({
      micOn: micOn && !micProblem,
      cameraOn: cameraOn && !cameraProblem,
      micTrack,
      cameraTrack: cameraGiven,
      displayName: guest ? name.trim() : undefined,
    });
  }


  return (
    <main className="prejoin">
      <section className="prejoin-preview" aria-label="Your camera and microphone">
        <VideoTile track={cameraTrack} placeholder={!cameraOn} name={guest ? name || 'You' : myName ?? 'You'} mirrored label="Your camera preview" />
        <div className="meter" aria-label="Microphone level" role="meter" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(level * 100)}>
          <div className="meter-bar" style={{ width: `${Math.round(level * 100)}%` }} />
        </div>
        <div className="prejoin-toggles">
          <button
            type="button"
            className={`btn round ${micOn ? '' : 'btn-off'}`}
            aria-pressed={micOn}
            onClick={() => setMicOn((v) => !v)}
            disabled={!micTrack}
            aria-label="Join with microphone"
            title={micOn ? 'Microphone on' : 'Microphone off'}
          >
            <Icon name={micOn ? 'mic' : 'micOff'} />
          </button>
          <button
            type="button"
            className={`btn round ${cameraOn ? '' : 'btn-off'}`}
            aria-pressed={cameraOn}
            onClick={() => setCameraOn((v) => !v)}
            aria-label="Join with camera"
            title={cameraOn ? 'Camera on' : 'Camera off'}
          >
            <Icon name={cameraOn ? 'camera' : 'cameraOff'} />
          </button>
        </div>
        {micProblem && <p className="error">{micProblem}</p>}
        {cameraProblem && <p className="error">{cameraProblem}</p>}
      </section>

      <form className="card prejoin-form" onSubmit={submit} aria-labelledby="prejoin-title">
        <h1 id="prejoin-title">{info.title}</h1>
        <p className="muted">
          {info.owner ? `Organised by ${info.owner.displayName}` : 'A new meeting'} · <span className="mono">{info.name}</span>
        </p>
        {guest && (
          <label>
            Your name
            <input
              name="displayName"
              required
              maxLength={64}
              autoFocus
              autoComplete="name"
              value={name}
              onChange={(e) => setName(e.target.value)}
              placeholder="How others will see you"
            />
          </label>
        )}
        <DeviceSelect label="Microphone" devices={devices?.microphones} value={prefs.microphoneId} preference="microphoneId" onChange={update} className="prejoin-device" />
        <DeviceSelect label="Camera" devices={devices?.cameras} value={prefs.cameraId} preference="cameraId" onChange={update} className="prejoin-device" />
        <DeviceSelect label="Speaker" devices={devices?.speakers} value={prefs.speakerId} preference="speakerId" onChange={update} className="prejoin-device" />
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <div className="prejoin-actions">
          <button className="btn btn-primary btn-block" type="submit" disabled={joining || (guest && !name.trim())} autoFocus={!guest}>
            {joining ? 'Joining…' : 'Join now'}
          </button>
          {onCancel && (
            <button type="button" className="btn btn-ghost" onClick={onCancel}>
              Back to Parley
            </button>
          )}
        </div>
      </form>
    </main>
  );
}
