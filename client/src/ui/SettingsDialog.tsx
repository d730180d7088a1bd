/** Choose microphone, camera and speaker, with a live camera preview. */
import { useEffect, useRef, useState } from 'react';
import { listDevices, loadDevicePreferences, saveDevicePreferences, type DevicePreferences } from '../media/devices';
import { VideoView } from './MediaView';

export function SettingsDialog({ onClose }: { onClose: () => void }) {
  const [prefs, setPrefs] = useState<DevicePreferences>(loadDevicePreferences());
  const [devices, setDevices] = useState<Awaited<ReturnType<typeof listDevices>>>();
  const [preview, setPreview] = useState<MediaStream>();
  const [error, setError] = useState<string>();
  const dialogRef = useRef<HTMLDivElement>(null);

  useEffect(() => {
    let stream: MediaStream | undefined;
    let cancelled = false;
    // Opening the devices once also makes their names visible to enumerateDevices().
    navigator.mediaDevices
      .getUserMedia({ audio: true, video: prefs.cameraId ? { deviceId: { ideal: prefs.cameraId } } : true })
      .then(async (s) => {
        stream = s;
        if (cancelled) return s.getTracks().forEach((t) => t.stop());
        setPreview(s);
        setDevices(await listDevices());
      })
      .catch(async (err: Error) => {
        setError(`Parley cannot open your camera or microphone (${err.message}). Allow access in the browser's site settings.`);
        setDevices(await listDevices().catch(() => undefined));
      });
    return () => {
      cancelled = true;
      stream?.getTracks().forEach((t) => t.stop());
    };
  }, [prefs.cameraId]);

  useEffect(() => {
    const onKey = (e: KeyboardEvent) => e.key === 'Escape' && onClose();
    window.addEventListener('keydown', onKey);
    dialogRef.current?.querySelector('select')?.focus();
    return () => window.removeEventListener('keydown', onKey);
  }, [onClose]);

  function update(patch: Partial<DevicePreferences>) {
    const next = { ...prefs, ...patch };
    setPrefs(next);
    saveDevicePreferences(next);
  }

  const select = (label: string, list: MediaDeviceInfo[] | undefined, value: string | undefined, key: keyof DevicePreferences) => (
    <label>
      {label}
      <select value={value ?? ''} onChange={(e) => update({ [key]: e.target.value || undefined })} disabled={!list?.length}>
        <option value="">Default</option>
        {list?.map((d, i) => (
          <option key={d.deviceId || i} value={d.deviceId}>
            {d.label || `${label} ${i + 1}`}
          </option>
        ))}
      </select>
    </label>
  );

  return (
    <div className="modal-backdrop" onClick={onClose}>
      <div ref={dialogRef} className="card modal" role="dialog" aria-modal="true" aria-labelledby="settings-title" onClick={(e) => e.stopPropagation()}>
        <h2 id="settings-title">Audio and video</h2>
        {preview && preview.getVideoTracks().length > 0 && <VideoView stream={preview} muted className="preview-video" label="Camera preview" />}
        {error && <p className="error">{error}</p>}
        {select('Microphone', devices?.microphones, prefs.microphoneId, 'microphoneId')}
        {select('Camera', devices?.cameras, prefs.cameraId, 'cameraId')}
        {select('Speaker', devices?.speakers, prefs.speakerId, 'speakerId')}
        {'Notification' in window && Notification.permission === 'default' && (
          <button className="btn" onClick={() => void Notification.requestPermission()}>
            Notify me of calls when Parley is in the background
          </button>
        )}
        <div className="modal-actions">
          <button className="btn btn-primary" onClick={onClose}>
            Done
          </button>
        </div>
      </div>
    </div>
  );
}
