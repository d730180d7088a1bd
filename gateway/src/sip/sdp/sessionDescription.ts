/**
 * Session descriptions (SDP, RFC 8866) as the gateway reads them in calls: parsed strictly
 * into sessions and media sections, formatted back, and each media section classified by the
 * media profile it speaks — WebRTC (ICE + DTLS-SRTP, what browsers require), SDES-SRTP or plain
 * RTP (what most phones send) — which decides whether a call needs a media bridge.
 */

export interface SdpAttribute {
  name: string;
  /** undefined for a flag attribute (a=rtcp-mux). */
  value?: string;
}

export interface SdpOrigin {
  username: string;
  sessionId: string;
  sessionVersion: string;
  netType: string;
  addrType: string;
  address: string;
}

export interface MediaDescription {
  /** audio, video, text, application, message … */
  kind: string;
  port: number;
  /** The "/<number of ports>" suffix, if any. */
  portCount?: number;
  /** RTP/AVP, RTP/SAVP, UDP/TLS/RTP/SAVPF … */
  proto: string;
  formats: string[];
  /** Other lines of the section in order (c=, b=, i=, k=), as type and value. */
  lines: Array<{ type: string; value: string }>;
  attributes: SdpAttribute[];
}

export interface SessionDescription {
  origin: SdpOrigin;
  sessionName: string;
  /** Session-level lines other than v=, o=, s= and a= (c=, t=, b= …), in order. */
  lines: Array<{ type: string; value: string }>;
  attributes: SdpAttribute[];
  media: MediaDescription[];
}

export class SdpParseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SdpParseError';
  }
}

/** Bounds on what a call's session description may hold. */
export const SDP_LIMITS = { maxLines: 1000, maxMedia: 32, maxLineLength: 4096 } as const;

const LINE = /^([a-z])=(.*)$/;
const TOKEN = /^[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+$/;

export function parseSdp(text: string): SessionDescription {
  const rawLines = text.split(/\r?\n/);
  if (rawLines[rawLines.length - 1] === '') rawLines.pop();
  if (rawLines.length > SDP_LIMITS.maxLines) throw new SdpParseError(`more than ${SDP_LIMITS.maxLines} lines`);
  const lines = rawLines.map((raw, i) => {
    if (raw.length > SDP_LIMITS.maxLineLength) throw new SdpParseError(`line ${i + 1} is longer than ${SDP_LIMITS.maxLineLength} characters`);
    const m = LINE.exec(raw);
    if (!m) throw new SdpParseError(`line ${i + 1} is not <type>=<value>`);
    return { type: m[1], value: m[2] };
  });
  if (lines[0]?.type !== 'v' || lines[0].value !== '0') throw new SdpParseError('the first line must be v=0');
  if (lines[1]?.type !== 'o') throw new SdpParseError('the second line must be o=');
  const origin = parseOrigin(lines[1].value);
  if (lines[2]?.type !== 's') throw new SdpParseError('the third line must be s=');
  const session: SessionDescription = { origin, sessionName: lines[2].value, lines: [], attributes: [], media: [] };
  let current: MediaDescription | undefined;
  for (const line of lines.slice(3)) {
    if (line.type === 'm') {
      if (session.media.length >= SDP_LIMITS.maxMedia) throw new SdpParseError(`more than ${SDP_LIMITS.maxMedia} media sections`);
      current = parseMediaLine(line.value);
      session.media.push(current);
    } else if (line.type === 'a') {
      (current ?? session).attributes.push(parseAttribute(line.value));
    } else if (line.type === 'v' || line.type === 'o' || line.type === 's') {
      throw new SdpParseError(`${line.type}= may appear only once, at the start`);
    } else {
      (current ?? session).lines.push(line);
    }
  }
  if (!session.lines.some((l) => l.type === 't')) throw new SdpParseError('a session needs a t= line');
  return session;
}

export function formatSdp(sd: SessionDescription): string {
  const o = sd.origin;
  const out = ['v=0', `o=${o.username} ${o.sessionId} ${o.sessionVersion} ${o.netType} ${o.addrType} ${o.address}`, `s=${sd.sessionName}`];
  for (const l of sd.lines) out.push(`${l.type}=${l.value}`);
  for (const a of sd.attributes) out.push(formatAttribute(a));
  for (const m of sd.media) {
    out.push(`m=${m.kind} ${m.port}${m.portCount !== undefined ? `/${m.portCount}` : ''} ${m.proto}${m.formats.map((f) => ` ${f}`).join('')}`);
    for (const l of m.lines) out.push(`${l.type}=${l.value}`);
    for (const a of m.attributes) out.push(formatAttribute(a));
  }
  return out.join('\r\n') + '\r\n';
}

/**
 * What a media section speaks:
 * - `webrtc`: ICE and DTLS-SRTP (a fingerprint and ICE credentials, at this or session level)
 *   over a TLS/RTP or SAVPF profile — browsers accept nothing else;
 * - `srtp-sdes`: RTP/SAVP(F) keyed with a=crypto (RFC 4568), as phones on TLS do;
 * - `rtp`: RTP/AVP(F), unencrypted — most phones;
 * - `other`: anything else (T.38, MSRP, a rejected or inactive section's proto …).
 */
export type MediaProfile = 'webrtc' | 'srtp-sdes' | 'rtp' | 'other';

export function mediaProfile(sd: SessionDescription, m: MediaDescription): MediaProfile {
  const has = (name: string) => m.attributes.some((a) => a.name === name) || sd.attributes.some((a) => a.name === name);
  const proto = m.proto.toUpperCase();
  if (!proto.includes('RTP/')) return 'other';
  if (has('fingerprint') && has('ice-ufrag') && (proto.includes('TLS/RTP') || proto.endsWith('SAVPF'))) return 'webrtc';
  if (proto.endsWith('/SAVP') || proto.endsWith('/SAVPF')) return m.attributes.some((a) => a.name === 'crypto') ? 'srtp-sdes' : 'other';
  if (proto.endsWith('/AVP') || proto.endsWith('/AVPF')) return 'rtp';
  return 'other';
}

/** Whether the description offers (or accepts) video: a video section with a port. */
export function hasVideo(sd: SessionDescription): boolean {
  return sd.media.some((m) => m.kind === 'video' && m.port !== 0);
}

function parseOrigin(value: string): SdpOrigin {
  const f = value.split(' ');
  if (f.length !== 6 || f.some((x) => x === '')) throw new SdpParseError('o= needs six fields: username session-id version nettype addrtype address');
  const [username, sessionId, sessionVersion, netType, addrType, address] = f;
  if (!/^\d+$/.test(sessionId) || !/^\d+$/.test(sessionVersion)) throw new SdpParseError('o= session id and version must be numbers');
  return { username, sessionId, sessionVersion, netType, addrType, address };
}

function parseMediaLine(value: string): MediaDescription {
  const f = value.split(' ');
  if (f.length < 4 || f.some((x) => x === '')) throw new SdpParseError('m= needs <media> <port> <proto> <fmt> …');
  const [kind, portField, proto, ...formats] = f;
  if (!TOKEN.test(kind)) throw new SdpParseError('m= media type must be a token');
  const pm = /^(\d{1,5})(?:\/(\d{1,5}))?$/.exec(portField);
  const port = pm ? Number(pm[1]) : NaN;
  if (!pm || port > 65535) throw new SdpParseError('m= port must be 0 to 65535');
  if (!/^[A-Za-z0-9/._-]+$/.test(proto)) throw new SdpParseError('m= proto is malformed');
  if (formats.some((x) => !/^[!#$%&'*+\-.0-9A-Z^_`a-z{|}~]+$/.test(x))) throw new SdpParseError('m= formats must be tokens');
  return { kind, port, portCount: pm[2] !== undefined ? Number(pm[2]) : undefined, proto, formats, lines: [], attributes: [] };
}

function parseAttribute(value: string): SdpAttribute {
  const colon = value.indexOf(':');
  const name = colon >= 0 ? value.slice(0, colon) : value;
  if (!TOKEN.test(name)) throw new SdpParseError(`a=${name.slice(0, 40)}: the attribute name must be a token`);
  return colon >= 0 ? { name, value: value.slice(colon + 1) } : { name };
}

function formatAttribute(a: SdpAttribute): string {
  return a.value === undefined ? `a=${a.name}` : `a=${a.name}:${a.value}`;
}

/**
 * What a whole description speaks: the profile of its active RTP sections when they agree,
 * undefined when there are none (no media to bridge) or they mix profiles or are `other`.
 */
export function sessionProfile(sd: SessionDescription): Exclude<MediaProfile, 'other'> | undefined {
  const profiles = new Set(sd.media.filter((m) => m.port !== 0).map((m) => mediaProfile(sd, m)));
  if (profiles.size !== 1) return undefined;
  const [profile] = profiles;
  return profile === 'other' ? undefined : profile;
}

/** The addresses media is to be sent to (c= of each active section, or the session's). */
export function mediaAddresses(sd: SessionDescription): string[] {
  const address = (lines: Array<{ type: string; value: string }>) => lines.find((l) => l.type === 'c')?.value.split(' ')[2];
  const session = address(sd.lines);
  return sd.media.filter((m) => m.port !== 0).map((m) => address(m.lines) ?? session ?? '');
}
