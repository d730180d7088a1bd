/**
 * One video in a meeting: a person's camera, their screen, or my own preview. Reports its
 * on-screen size and visibility so the SFU sends the simulcast layer that fits.
 */
import { useEffect, useRef } from 'react';
import { Icon } from '../Icon';

export interface VideoTileProps {
  track?: MediaStreamTrack;
  name: string;
  /** Shown instead of video (camera off, or no camera). */
  placeholder?: boolean;
  mirrored?: boolean;
  micMuted?: boolean;
  handRaised?: boolean;
  speaking?: boolean;
  screen?: boolean;
  large?: boolean;
  label?: string;
  onView?: (width: number, height: number, visible: boolean) => void;
}

export function VideoTile({ track, name, placeholder, mirrored, micMuted, handRaised, speaking, screen, large, label, onView }: VideoTileProps) {
  const videoRef = useRef<HTMLVideoElement>(null);
  const tileRef = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const el = videoRef.current;
    if (!el) return;
    const stream = track ? new MediaStream([track]) : null;
    el.srcObject = stream;
    if (stream) void el.play().catch(() => undefined);
  }, [track, placeholder]);

  useEffect(() => {
    const el = tileRef.current;
    if (!el || !onView) return;
    let visible = true;
    const report = () => {
      const r = el.getBoundingClientRect();
      onView(r.width, r.height, visible && !document.hidden);
    };
    const resize = new ResizeObserver(report);
    resize.observe(el);
    const intersection = new IntersectionObserver((entries) => {
      visible = entries.some((e) => e.isIntersecting);
      report();
    });
    intersection.observe(el);
    document.addEventListener('visibilitychange', report);
    return () => {
      resize.disconnect();
      intersection.disconnect();
      document.removeEventListener('visibilitychange', report);
    };
  }, [onView]);

  const showVideo = Boolean(track) && !placeholder;
  return (
    <div
      ref={tileRef}
      className={`tile ${speaking ? 'tile-speaking' : ''} ${screen ? 'tile-screen' : ''} ${large ? 'tile-large' : ''}`}
      data-testid={screen ? 'screen-tile' : 'meeting-tile'}
      data-name={name}
      data-speaking={speaking ? 'true' : 'false'}
      aria-label={label ?? name}
      role="group"
    >
      {showVideo ? (
        <video ref={videoRef} autoPlay playsInline muted className={mirrored ? 'mirrored' : undefined} />
      ) : (
        <div className="tile-avatar" aria-hidden="true">
          {initials(name)}
        </div>
      )}
      <div className="tile-label">
        {micMuted && (
          <span className="tile-icon" role="img" title="Muted" aria-label="muted">
            <Icon name="micOff" size={14} />
          </span>
        )}
        <span className="tile-name">{screen ? `${name} (screen)` : name}</span>
        {handRaised && (
          <span className="tile-icon tile-hand" role="img" title="Hand raised" aria-label="hand raised">
            <Icon name="hand" size={14} />
          </span>
        )}
      </div>
    </div>
  );
}

export function initials(name: string): string {
  const parts = name
    .replace(/\(.*?\)/g, '')
    .trim()
    .split(/\s+/)
    .filter(Boolean);
  return ((parts[0]?.[0] ?? '?') + (parts.length > 1 ? parts[parts.length - 1][0] : '')).toUpperCase();
}
