/**
 * Finds the links in a chat message's text, as chat apps make them clickable: http(s) URLs,
 * `www.` addresses (opened as https), `mailto:` and `xmpp:` URIs — nothing else, so a
 * `javascript:` or `data:` URI stays plain text. Punctuation that ends a sentence, and a closing
 * bracket without its opening one, are left out of the link ("see https://x.org/a)." → the URL
 * without ")." ), as Element and Conversations do.
 */
export type TextPart = { text: string; href?: undefined } | { text: string; href: string };

const CANDIDATE = /\b(?:https?:\/\/|www\.|mailto:|xmpp:)[^\s<>"]+/gi;
const TRAILING = /[.,;:!?'"’”]+$/;

export function linkParts(body: string): TextPart[] {
  const parts: TextPart[] = [];
  let last = 0;
  for (const m of body.matchAll(CANDIDATE)) {
    const start = m.index;
    const link = trimLink(m[0]);
    const href = hrefOf(link);
    if (!href) continue;
    if (start > last) parts.push({ text: body.slice(last, start) });
    parts.push({ text: link, href });
    last = start + link.length;
  }
  if (last < body.length) parts.push({ text: body.slice(last) });
  return parts;
}

function trimLink(raw: string): string {
  let link = raw;
  for (;;) {
    const before = link;
    link = link.replace(TRAILING, '');
    // A closing bracket belongs to the link only when the link opened one ("…/Foo_(bar)").
    for (const [open, close] of [['(', ')'], ['[', ']']] as const) {
      while (link.endsWith(close) && count(link, close) > count(link, open)) link = link.slice(0, -1);
    }
    if (link === before) return link;
  }
}

const count = (s: string, c: string) => s.split(c).length - 1;

/** The address to open, or undefined when the text is not a usable link. */
function hrefOf(link: string): string | undefined {
  const candidate = /^www\./i.test(link) ? `https://${link}` : link;
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return undefined;
  }
  if (!['http:', 'https:', 'mailto:', 'xmpp:'].includes(url.protocol)) return undefined;
  if ((url.protocol === 'http:' || url.protocol === 'https:') && !url.hostname.includes('.') && url.hostname !== 'localhost') return undefined;
  return url.href;
}
