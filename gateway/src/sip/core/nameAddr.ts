/** name-addr / addr-spec with header parameters: From, To, Contact, Route, Record-Route (RFC 3261 §20). */
import { formatParams, parseParams, type Params } from './grammar.js';
import { parseUri, type Uri } from './uri.js';

export class NameAddr {
  constructor(
    public uri: Uri,
    public displayName: string | undefined = undefined,
    public params: Params = new Map(),
  ) {}

  get tag(): string | undefined {
    return this.params.get('tag') ?? undefined;
  }

  toString(): string {
    const dn = this.displayName ? `${this.displayName} ` : '';
    return `${dn}<${this.uri.toString()}>${formatParams(this.params)}`;
  }
}

export class NameAddrParseError extends Error {}

/** display-name = *(token LWS) / quoted-string (RFC 3261 §25.1). */
const QUOTED_DISPLAY = /^"(?:[^"\\]|\\[\s\S])*"$/;
const TOKEN_DISPLAY = /^[A-Za-z0-9\-.!%*_+`'~]+(?:\s+[A-Za-z0-9\-.!%*_+`'~]+)*$/;

export function parseNameAddr(value: string): NameAddr {
  const v = value.trim();
  const open = findUnquoted(v, '<');
  if (open >= 0) {
    const close = v.indexOf('>', open);
    if (close < 0) throw new NameAddrParseError('missing ">"');
    const display = v.slice(0, open).trim();
    if (display && !QUOTED_DISPLAY.test(display) && !TOKEN_DISPLAY.test(display)) {
      throw new NameAddrParseError('bad display name');
    }
    const inner = v.slice(open + 1, close);
    if (/\s/.test(inner)) throw new NameAddrParseError('spaces inside <>');
    const uri = parseUri(inner);
    const rest = v.slice(close + 1).trim();
    if (rest && !rest.startsWith(';')) throw new NameAddrParseError('junk after ">"');
    return new NameAddr(uri, display || undefined, parseParams(rest));
  }
  const semi = v.indexOf(';');
  const uriPart = semi >= 0 ? v.slice(0, semi) : v;
  if (/[\s"]/.test(uriPart.trim())) throw new NameAddrParseError('addr-spec with spaces or quotes needs <>');
  // RFC 3261 §20: a URI with a comma, question mark or semicolon must be in <> (its ';' would
  // read as header parameters here, and '?' headers are only allowed inside <>).
  if (/[?,]/.test(uriPart)) throw new NameAddrParseError('a URI with "?" or "," needs <>');
  return new NameAddr(parseUri(uriPart.trim()), undefined, parseParams(semi >= 0 ? v.slice(semi) : ''));
}

function findUnquoted(v: string, ch: string): number {
  let inQuotes = false;
  for (let i = 0; i < v.length; i++) {
    const c = v[i];
    if (inQuotes) {
      if (c === '\\') i++;
      else if (c === '"') inQuotes = false;
    } else if (c === '"') inQuotes = true;
    else if (c === ch) return i;
  }
  return -1;
}
