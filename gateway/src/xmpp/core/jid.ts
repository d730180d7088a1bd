/**
 * Jabber IDs (RFC 7622), simplified to what Parley issues and accepts: local parts and
 * domains are compared lower-cased; resources are kept as given.
 */
export class Jid {
  constructor(
    readonly local: string | undefined,
    readonly domain: string,
    readonly resource: string | undefined = undefined,
  ) {}

  /** `local@domain` (or `domain`). */
  get bare(): string {
    return this.local ? `${this.local}@${this.domain}` : this.domain;
  }

  get full(): string {
    return this.resource ? `${this.bare}/${this.resource}` : this.bare;
  }

  get isBare(): boolean {
    return this.resource === undefined;
  }

  withResource(resource: string | undefined): Jid {
    return new Jid(this.local, this.domain, resource);
  }

  toBare(): Jid {
    return this.resource === undefined ? this : new Jid(this.local, this.domain);
  }

  toString(): string {
    return this.full;
  }
}

const FORBIDDEN_LOCAL = /[\s"&'/:<>@\u0000-\u001f\u007f]/;
const DOMAIN = /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$|^\[[0-9a-f:.]+\]$|^\d{1,3}(?:\.\d{1,3}){3}$/;
const MAX_PART = 1023;

/** Parses a JID; undefined when it is not one (the caller answers jid-malformed). */
export function parseJid(input: string | undefined): Jid | undefined {
  if (!input || input.length > 3071) return undefined;
  let rest = input;
  let resource: string | undefined;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    resource = rest.slice(slash + 1);
    rest = rest.slice(0, slash);
    if (!resource || resource.length > MAX_PART || /[\u0000-\u001f\u007f]/.test(resource)) return undefined;
  }
  let local: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    local = rest.slice(0, at).normalize('NFKC').toLowerCase();
    rest = rest.slice(at + 1);
    if (!local || local.length > MAX_PART || FORBIDDEN_LOCAL.test(local)) return undefined;
  }
  const domain = rest.toLowerCase().replace(/\.$/, '');
  if (!domain || domain.length > MAX_PART || !DOMAIN.test(domain)) return undefined;
  return new Jid(local, domain, resource);
}

export function bareOf(jid: string): string {
  const slash = jid.indexOf('/');
  return slash >= 0 ? jid.slice(0, slash) : jid;
}
