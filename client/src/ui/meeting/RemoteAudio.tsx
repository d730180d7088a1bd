/** Plays one participant's microphone through the chosen speaker (audio is separate from the tiles). */
import { useEffect, useRef } from 'react';
import { applySpeaker, loadDevicePreferences } from '../../media/devices';

export function RemoteAudio({ track }: { track: MediaStreamTrack }) {
  const ref = useRef<HTMLAudioElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.srcObject = new MediaStream([track]);
    void applySpeaker(el, loadDevicePreferences().speakerId);
    void el.play().catch(() => undefined);
  }, [track]);
  return <audio ref={ref} autoPlay />;
}
