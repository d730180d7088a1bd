/** A <video> (or <audio>) element showing a MediaStream, playing through the chosen speaker. */
import { useEffect, useRef } from 'react';
import { applySpeaker, loadDevicePreferences } from '../media/devices';

export function VideoView({ stream, muted, className, label }: { stream?: MediaStream; muted?: boolean; className?: string; label: string }) {
  const ref = useRef<HTMLVideoElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    if (el.srcObject !== (stream ?? null)) el.srcObject = stream ?? null;
    if (!muted) void applySpeaker(el, loadDevicePreferences().speakerId);
    if (stream) void el.play().catch(() => undefined);
  }, [stream, muted]);
  return <video ref={ref} className={className} autoPlay playsInline muted={muted} aria-label={label} />;
}
