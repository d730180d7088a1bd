/** The user's chosen microphone, camera and speaker (kept in localStorage), and getUserMedia with them. */

export interface DevicePreferences {
  microphoneId?: string;
  cameraId?: string;
  speakerId?: string;
}

const KEY = 'parley.devices';

export function loadDevicePreferences(): DevicePreferences {
  try {
    return JSON.parse(localStorage.getItem(KEY) ?? '{}') as DevicePreferences;
  } catch {
    return {};
  }
}

export function saveDevicePreferences(prefs: DevicePreferences): void {
  localStorage.setItem(KEY, JSON.stringify(prefs));
}

export interface LocalMedia {
  stream: MediaStream;
  /** Set when video was asked for but no camera could be used. */
  videoUnavailable?: string;
}

/** Opens the microphone (and camera); falls back to audio only when the camera fails. */
export async function openLocalMedia(video: boolean, prefs = loadDevicePreferences()): Promise<LocalMedia> {
  const audio: MediaTrackConstraints | boolean = prefs.microphoneId ? { deviceId: { ideal: prefs.microphoneId } } : true;
  const videoConstraints: MediaTrackConstraints = {
    width: { ideal: 1280 },
    height: { ideal: 720 },
    ...(prefs.cameraId ? { deviceId: { ideal: prefs.cameraId } } : {}),
  };
  if (!video) return { stream: await navigator.mediaDevices.getUserMedia({ audio }) };
  try {
    return { stream: await navigator.mediaDevices.getUserMedia({ audio, video: videoConstraints }) };
  } catch (err) {
    const stream = await navigator.mediaDevices.getUserMedia({ audio });
    return { stream, videoUnavailable: err instanceof Error ? err.message : 'camera unavailable' };
  }
}

export async function listDevices(): Promise<{ microphones: MediaDeviceInfo[]; cameras: MediaDeviceInfo[]; speakers: MediaDeviceInfo[] }> {
  const all = await navigator.mediaDevices.enumerateDevices();
  return {
    microphones: all.filter((d) => d.kind === 'audioinput'),
    cameras: all.filter((d) => d.kind === 'videoinput'),
    speakers: all.filter((d) => d.kind === 'audiooutput'),
  };
}

/** Routes a media element to the chosen speaker where the browser allows it. */
export async function applySpeaker(el: HTMLMediaElement, speakerId: string | undefined): Promise<void> {
  const withSink = el as HTMLMediaElement & { setSinkId?: (id: string) => Promise<void> };
  if (speakerId && withSink.setSinkId) {
    try {
      await withSink.setSinkId(speakerId);
    } catch {
      // The device went away: keep the default output.
    }
  }
}
