/** The Via header (RFC 3261 §20.42, RFC 3581 rport). */
import { formatParams, parseParams, type Params } from './grammar.js';
import { parseHostPort } from './uri.js';

export const BRANCH_MAGIC_COOKIE = 'z9hG4bK';

export class Via {
  constructor(
    public transport: string,
    public host: string,
    public port: number | undefined,
    public params: Params = new Map(),
  ) {}

  get branch(): string | undefined {
    return this.params.get('branch') ?? undefined;
  }

  get sentBy(): string {
    return this.port === undefined ? this.host.toLowerCase() : `${this.host.toLowerCase()}:${this.port}`;
  }

  toString(): string {
    const port = this.port === undefined ? '' : `:${this.port}`;
    return `SIP/2.0/${this.transport} ${this.host}${port}${formatParams(this.params)}`;
  }
}

export class ViaParseError extends Error {}

const VIA = /^SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z0-9-]+)\s+([^;\s]+(?:\s*:\s*\d+)?)\s*(;.*)?$/i;

export function parseVia(value: string): Via {
  const m = VIA.exec(value.trim());
  if (!m) throw new ViaParseError('malformed Via');
  const { host, port } = parseHostPort(m[2].replace(/\s+/g, ''));
  const params = parseParams(m[3] ?? '');
  const branch = params.get('branch');
  if (branch === null || branch === '') throw new ViaParseError('empty branch');
  const rport = params.get('rport');
  if (rport && !/^\d{1,5}$/.test(rport)) throw new ViaParseError('bad rport');
  const ttl = params.get('ttl');
  if (ttl !== undefined && (ttl === null || !/^\d{1,3}$/.test(ttl) || Number(ttl) > 255)) {
    throw new ViaParseError('bad ttl');
  }
  return new Via(m[1].toUpperCase(), host, port, params);
}
