/** Choose microphone, camera and speaker, with a live camera preview. */
import { useEffect, useRef, useState } from 'react';
import { listDevices, loadDevicePreferences, saveDevicePreferences, type DevicePreferences } from '../media/devices';
import { DeviceSelect } from './DeviceSelect';
import { VideoView } from './MediaView';
import { useDialog } from './useDialog';

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

  useDialog(dialogRef, onClose, 'select');

  function update(patch: Partial<DevicePreferences>) {
    const next = { ...prefs, ...patch };
    setPrefs(next);
    saveDevicePreferences(next);
  }


  return (
    <div className="modal-backdrop" onClick={onClose}>
      <div ref={dialogRef} className="card modal" role="dialog" aria-modal="true" aria-labelledby="settings-title" onClick={(e) => e.stopPropagation()}>
        <h2 id="settings-title">Audio and video</h2>
        {preview && preview.getVideoTracks().length > 0 && <VideoView stream={preview} muted className="preview-video" label="Camera preview" />}
        {error && <p className="error">{error}</p>}
        <DeviceSelect label="Microphone" devices={devices?.microphones} value={prefs.microphoneId} preference="microphoneId" onChange={update} />
        <DeviceSelect label="Camera" devices={devices?.cameras} value={prefs.cameraId} preference="cameraId" onChange={update} />
        <DeviceSelect label="Speaker" devices={devices?.speakers} value={prefs.speakerId} preference="speakerId" onChange={update} />
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
