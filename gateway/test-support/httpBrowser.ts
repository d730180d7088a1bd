/**
 * What a browser does in a sign-in, over fetch: a cookie jar per site, redirects followed, and
 * forms submitted with their hidden fields (an IdP's login form, a SAML auto-posting form).
 */

export interface HttpPage {
  url: string;
  status: number;
  text: string;
}

const decodeEntities = (s: string) => s.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

export class HttpBrowser {
  readonly #jar = new Map<string, Map<string, string>>();
  /** Every URL visited, in order. */
  readonly visited: string[] = [];

  async go(url: string, init: { method?: string; form?: Record<string, string> } = {}): Promise<HttpPage> {
    let current = new URL(url);
    let method = init.method ?? 'GET';
    let body: string | undefined = init.form && new URLSearchParams(init.form).toString();
    for (let hops = 0; hops < 20; hops++) {
      this.visited.push(current.href);
      const cookies = [...(this.#jar.get(current.host) ?? new Map<string, string>()).entries()].map(([k, v]) => `${k}=${v}`).join('; ');
      const res = await fetch(current, {
        method,
        redirect: 'manual',
        headers: { ...(cookies && { cookie: cookies }), ...(body && { 'content-type': 'application/x-www-form-urlencoded' }) },
        body,
      });
      for (const c of res.headers.getSetCookie()) {
        const [pair, ...attrs] = c.split(';');
        const eq = pair.indexOf('=');
        const jar = this.#jar.get(current.host) ?? new Map<string, string>();
        this.#jar.set(current.host, jar);
        const expired = attrs.some((a) => /^\s*max-age=0$/i.test(a)) || pair.slice(eq + 1) === '';
        if (expired) jar.delete(pair.slice(0, eq));
        else jar.set(pair.slice(0, eq), pair.slice(eq + 1));
      }
      const location = res.headers.get('location');
      if (res.status >= 300 && res.status < 400 && location) {
        current = new URL(location, current);
        method = 'GET';
        body = undefined;
        continue;
      }
      return { url: current.href, status: res.status, text: await res.text() };
    }
    throw new Error('too many redirects');
  }

  cookie(host: string, name: string): string | undefined {
    return this.#jar.get(host)?.get(name);
  }

  /** Submits the page's first form: its hidden fields, then `fields`. */
  submitForm(page: HttpPage, fields: Record<string, string> = {}): Promise<HttpPage> {
    const form = /<form([^>]*)>([\s\S]*?)<\/form>/.exec(page.text);
    if (!form) throw new Error(`no form on ${page.url}: ${page.text.slice(0, 300)}`);
    const action = decodeEntities(/action="([^"]*)"/.exec(form[1])?.[1] ?? page.url);
    const method = (/method="([^"]*)"/i.exec(form[1])?.[1] ?? 'get').toUpperCase();
    const hidden: Record<string, string> = {};
    for (const input of form[2].matchAll(/<input[^>]*type="hidden"[^>]*>/g)) {
      const name = /name="([^"]*)"/.exec(input[0])?.[1];
      if (name) hidden[name] = decodeEntities(/value="([^"]*)"/.exec(input[0])?.[1] ?? '');
    }
    return this.go(new URL(action, page.url).href, { method, form: { ...hidden, ...fields } });
  }

  /** The value of a hidden field on the page. */
  static hidden(page: HttpPage, name: string): string | undefined {
    const input = new RegExp(`<input[^>]*name="${name}"[^>]*>`).exec(page.text)?.[0];
    return input && decodeEntities(/value="([^"]*)"/.exec(input)?.[1] ?? '');
  }
}
