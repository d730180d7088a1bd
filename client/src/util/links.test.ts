import { describe, expect, it } from 'vitest';
import { linkParts } from './links';

const links = (body: string) => linkParts(body).filter((p) => p.href).map((p) => [p.text, p.href]);

describe('links in chat messages', () => {
  it('finds http(s), www., mailto: and xmpp: links and keeps the text around them', () => {
    expect(linkParts('see https://example.org/a?b=1 now')).toEqual([{ text: 'see ' }, { text: 'https://example.org/a?b=1', href: 'https://example.org/a?b=1' }, { text: ' now' }]);
    expect(links('www.debian.org')).toEqual([['www.debian.org', 'https://www.debian.org/']]);
    expect(links('mail mailto:bob@example.org or xmpp:room@conference.example.org?join')).toEqual([
      ['mailto:bob@example.org', 'mailto:bob@example.org'],
      ['xmpp:room@conference.example.org?join', 'xmpp:room@conference.example.org?join'],
    ]);
  });

  it('never makes javascript:, data: or other schemes clickable', () => {
    for (const body of ['javascript:alert(1)', 'data:text/html,<script>alert(1)</script>', 'JaVaScRiPt:alert(1)', 'vbscript:x', 'file:///etc/passwd']) {
      expect(links(body)).toEqual([]);
      expect(linkParts(body).map((p) => p.text).join('')).toBe(body);
    }
  });

  it('leaves sentence punctuation and unmatched brackets out of the link', () => {
    expect(links('read https://example.org/x.')).toEqual([['https://example.org/x', 'https://example.org/x']]);
    expect(links('(see https://example.org/y)')).toEqual([['https://example.org/y', 'https://example.org/y']]);
    expect(links('https://en.wikipedia.org/wiki/Foo_(bar), ok')).toEqual([['https://en.wikipedia.org/wiki/Foo_(bar)', 'https://en.wikipedia.org/wiki/Foo_(bar)']]);
  });

  it('does not take a bare word with a scheme but no host for a link', () => {
    expect(links('https://nohost and http://')).toEqual([]);
    expect(links('http://localhost:8080/meet/x')).toEqual([['http://localhost:8080/meet/x', 'http://localhost:8080/meet/x']]);
  });
});
