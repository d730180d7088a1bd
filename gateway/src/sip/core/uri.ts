/** SIP and SIPS URIs (RFC 3261 §19.1). Other schemes are kept opaque so we can answer 416. */
import { formatParams, parseParams, type Params } from './grammar.js';

export class SipUri {
  constructor(
    public scheme: 'sip' | 'sips',
    public user: string | undefined,
    public host: string,
    public port: number | undefined,
    public params: Params = new Map(),
    public password?: string,
    public headers?: string,
  ) {}

  /** The user part with %-escapes resolved, as used for directory lookups. */
  get userUnescaped(): string | undefined {
    if (this.user === undefined) return undefined;
    try {
      return decodeURIComponent(this.user);
    } catch {
      return this.user;
    }
  }

  get transportParam(): string | undefined {
    return this.params.get('transport')?.toLowerCase() ?? undefined;
  }

  clone(): SipUri {
    return new SipUri(this.scheme, this.user, this.host, this.port, new Map(this.params), this.password, this.headers);
  }

  toString(): string {
    let s = `${this.scheme}:`;
    if (this.user !== undefined) s += this.password !== undefined ? `${this.user}:${this.password}@` : `${this.user}@`;
    s += this.host;
    if (this.port !== undefined) s += `:${this.port}`;
    s += formatParams(this.params);
    if (this.headers) s += `?${this.headers}`;
    return s;
  }

  /** `user@host` with lower-cased host: the address-of-record key. */
  get aor(): string {
    return `${this.userUnescaped ?? ''}@${this.host.toLowerCase()}`;
  }
}

export class OtherUri {
  constructor(
    public scheme: string,
    public raw: string,
  ) {}
  toString(): string {
    return this.raw;
  }
}

export type Uri = SipUri | OtherUri;

export class UriParseError extends Error {}

const SCHEME = /^([A-Za-z][A-Za-z0-9+.-]*):/;
const HOSTNAME = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.?$/;
const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;
const IPV6_REF = /^\[[0-9A-Fa-f:.]+\]$/;
const USER_CHARS = /^(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|%[0-9A-Fa-f]{2})+$/;

export function parseUri(raw: string): Uri {
  const m = SCHEME.exec(raw);
  if (!m) throw new UriParseError(`not a URI: ${raw.slice(0, 80)}`);
  const scheme = m[1].toLowerCase();
  if (scheme !== 'sip' && scheme !== 'sips') return new OtherUri(scheme, raw);
  if (/\s/.test(raw)) throw new UriParseError('whitespace in SIP URI');
  let rest = raw.slice(m[0].length);
  let user: string | undefined;
  let password: string | undefined;
  // The user part may hold '?', ';' and ',' unescaped but never '@', so it ends at the first '@'.
  const at = rest.indexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    rest = rest.slice(at + 1);
    const colon = userinfo.indexOf(':');
    user = colon >= 0 ? userinfo.slice(0, colon) : userinfo;
    if (colon >= 0) password = userinfo.slice(colon + 1);
    if (!user || !USER_CHARS.test(user)) throw new UriParseError('bad user part in SIP URI');
  }
  let headers: string | undefined;
  const q = rest.indexOf('?');
  if (q >= 0) {
    headers = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  let paramStr = '';
  const semi = rest.indexOf(';');
  if (semi >= 0) {
    paramStr = rest.slice(semi);
    rest = rest.slice(0, semi);
  }
  const { host, port } = parseHostPort(rest);
  return new SipUri(scheme, user, host, port, parseParams(paramStr), password, headers);
}

export function parseHostPort(s: string): { host: string; port: number | undefined } {
  let host: string;
  let portStr: string | undefined;
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end < 0) throw new UriParseError('unterminated IPv6 reference');
    host = s.slice(0, end + 1);
    const after = s.slice(end + 1);
    if (after) {
      if (!after.startsWith(':')) throw new UriParseError('junk after IPv6 reference');
      portStr = after.slice(1);
    }
    if (!IPV6_REF.test(host)) throw new UriParseError('bad IPv6 reference');
  } else {
    const colon = s.indexOf(':');
    host = colon >= 0 ? s.slice(0, colon) : s;
    if (colon >= 0) portStr = s.slice(colon + 1);
    if (!host || !(IPV4.test(host) || HOSTNAME.test(host))) throw new UriParseError(`bad host "${host.slice(0, 60)}"`);
  }
  let port: number | undefined;
  if (portStr !== undefined) {
    if (!/^\d{1,5}$/.test(portStr)) throw new UriParseError('bad port');
    port = Number(portStr);
    if (port > 65535) throw new UriParseError('port out of range');
  }
  return { host, port };
}

/** A host as a socket address: strips IPv6 brackets. */
export function socketHost(host: string): string {
  return host.startsWith('[') ? host.slice(1, -1) : host;
}
