/**
 * A SAML 2.0 identity provider for tests, built on samlify in its IdP role: it reads the
 * service provider's metadata, takes AuthnRequests over HTTP-Redirect (checking their
 * signature), shows its own login form (user name and password, checked against the test's
 * accounts, with a Cancel button), and posts signed responses to the SP's assertion consumer
 * service. `response()` makes responses directly, including the bad ones tests need (another
 * key, no signature, tampered after signing, another audience, expired).
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
// The default import: samlify's CommonJS exports (SamlLib among them) are not all visible as named ESM exports.
import samlify from 'samlify';
import * as validator from '@authenio/samlify-node-xmllint';
import selfsigned from 'selfsigned';

samlify.setSchemaValidator(validator);

export interface SamlTestUser {
  password: string;
  /** Attributes sent, by name (eduPersonPrincipalName, displayName, mail …). */
  attributes: Record<string, string>;
  /** A persistent NameID (else the response's NameID is transient). */
  persistentId?: string;
}

export interface ResponseOptions {
  inResponseTo: string;
  audience?: string;
  /** Minutes from now the assertion stops counting (negative: expired). */
  validMinutes?: number;
  /** Sign with a key the SP does not know. */
  otherKey?: boolean;
  unsigned?: boolean;
  /** Change an attribute value after signing. */
  tamper?: { from: string; to: string };
  status?: 'success' | 'authn-failed';
}

const RESPONDER = 'urn:oasis:names:tc:SAML:2.0:status:Responder';
const AUTHN_FAILED = 'urn:oasis:names:tc:SAML:2.0:status:AuthnFailed';
const SUCCESS = 'urn:oasis:names:tc:SAML:2.0:status:Success';

async function keyPair(cn: string): Promise<{ key: string; cert: string }> {
  const g = await selfsigned.generate([{ name: 'commonName', value: cn }], { keySize: 2048, algorithm: 'sha256', days: 30 } as Parameters<typeof selfsigned.generate>[1]);
  return { key: g.private, cert: g.cert };
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const stripPem = (pem: string) => pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');

export class SamlTestIdp {
  readonly #users: Record<string, SamlTestUser>;
  #server: http.Server | undefined;
  #keys!: { key: string; cert: string };
  #otherKeys!: { key: string; cert: string };
  #idp!: ReturnType<typeof samlify.IdentityProvider>;
  #sp!: ReturnType<typeof samlify.ServiceProvider>;
  #spMeta!: { entityId: string; acsUrl: string };
  base = '';
  /** Requests the IdP received whose signature checked. */
  signedRequests = 0;
  logouts = 0;

  constructor(users: Record<string, SamlTestUser>) {
    this.#users = users;
  }

  get entityId(): string {
    return `${this.base}/idp`;
  }

  /** This IdP's metadata, as an operator downloads it from the IdP. */
  get metadata(): string {
    return this.#idp.getMetadata();
  }

  /** Listens (the SP's metadata comes later: `trust`). */
  async start(): Promise<void> {
    [this.#keys, this.#otherKeys] = await Promise.all([keyPair('test-idp'), keyPair('impostor')]);
    this.#server = http.createServer((req, res) => {
      this.#handle(req, res).catch((err: Error) => {
        res.writeHead(500, { 'Content-Type': 'text/plain' });
        res.end(`IdP error: ${err.message}`);
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    this.#idp = this.#makeIdp(this.#keys);
  }

  /** Reads the SP's metadata (as an IdP operator registers a service). */
  trust(spMetadata: string): void {
    this.#sp = samlify.ServiceProvider({ metadata: spMetadata });
    this.#spMeta = { entityId: this.#sp.entityMeta.getEntityID(), acsUrl: this.#sp.entityMeta.getAssertionConsumerService('post') as string };
  }

  #makeIdp(keys: { key: string; cert: string }) {
    return samlify.IdentityProvider({
      entityID: `${this.base}/idp`,
      privateKey: keys.key,
      signingCert: keys.cert,
      wantAuthnRequestsSigned: true,
      nameIDFormat: ['urn:oasis:names:tc:SAML:2.0:nameid-format:persistent', 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient'],
      singleSignOnService: [{ Binding: samlify.Constants.namespace.binding.redirect, Location: `${this.base}/sso` }],
      singleLogoutService: [{ Binding: samlify.Constants.namespace.binding.redirect, Location: `${this.base}/slo` }],
    });
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }

  /** A base64 SAMLResponse for `username`, good or bad as asked. */
  async response(username: string, o: ResponseOptions): Promise<string> {
    const user = this.#users[username];
    const now = new Date();
    const until = new Date(now.getTime() + (o.validMinutes ?? 5) * 60_000).toISOString();
    const notBefore = new Date(now.getTime() - ((o.validMinutes ?? 5) < 0 ? 30 : 0) * 60_000).toISOString();
    const attributes = Object.entries(user?.attributes ?? {})
      .map(
        ([name, value]) =>
          `<saml:Attribute Name="${escapeXml(name)}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:basic"><saml:AttributeValue xsi:type="xs:string">${escapeXml(value)}</saml:AttributeValue></saml:Attribute>`,
      )
      .join('');
    const values: Record<string, string> = {
      ID: `_${crypto.randomBytes(16).toString('hex')}`,
      AssertionID: `_${crypto.randomBytes(16).toString('hex')}`,
      Destination: this.#spMeta.acsUrl,
      Audience: o.audience ?? this.#spMeta.entityId,
      SubjectRecipient: this.#spMeta.acsUrl,
      Issuer: this.entityId,
      IssueInstant: now.toISOString(),
      StatusCode: o.status === 'authn-failed' ? RESPONDER : SUCCESS,
      ConditionsNotBefore: notBefore,
      ConditionsNotOnOrAfter: until,
      SubjectConfirmationDataNotOnOrAfter: until,
      NameIDFormat: user?.persistentId ? 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent' : 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient',
      NameID: user?.persistentId ?? `_${crypto.randomBytes(8).toString('hex')}`,
      InResponseTo: o.inResponseTo,
    };
    // The statements are XML: put in as they are (replaceTagsByValue escapes what it fills in).
    const statements = {
      AuthnStatement: `<saml:AuthnStatement AuthnInstant="${now.toISOString()}" SessionIndex="_s${crypto.randomBytes(6).toString('hex')}"><saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext></saml:AuthnStatement>`,
      AttributeStatement: attributes ? `<saml:AttributeStatement>${attributes}</saml:AttributeStatement>` : '',
    };
    let xml: string;
    if (o.status === 'authn-failed') {
      xml = `<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="${values.ID}" Version="2.0" IssueInstant="${values.IssueInstant}" Destination="${values.Destination}" InResponseTo="${values.InResponseTo}"><saml:Issuer>${this.entityId}</saml:Issuer><samlp:Status><samlp:StatusCode Value="${RESPONDER}"><samlp:StatusCode Value="${AUTHN_FAILED}"/></samlp:StatusCode><samlp:StatusMessage>The user cancelled</samlp:StatusMessage></samlp:Status></samlp:Response>`;
      return Buffer.from(xml).toString('base64');
    }
    const template = samlify.SamlLib.defaultLoginResponseTemplate.context
      .replace('{AuthnStatement}', statements.AuthnStatement)
      .replace('{AttributeStatement}', statements.AttributeStatement);
    if (o.unsigned) {
      xml = samlify.SamlLib.replaceTagsByValue(template, values);
    } else {
      const idp = o.otherKey ? this.#makeIdp(this.#otherKeys) : this.#idp;
      const made = await idp.createLoginResponse(this.#sp, { extract: { request: { id: o.inResponseTo } } }, 'post', { email: values.NameID }, () => ({
        id: values.ID,
        context: samlify.SamlLib.replaceTagsByValue(template, values),
      }));
      xml = Buffer.from(made.context, 'base64').toString('utf8');
    }
    if (o.tamper) xml = xml.replace(o.tamper.from, o.tamper.to);
    return Buffer.from(xml).toString('base64');
  }

  async #handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.base);
    if (url.pathname === '/sso' && req.method === 'GET') {
      // samlify checks the AuthnRequest's signature against the SP metadata's certificate.
      const octetString = url.search.slice(1).split('&').filter((p) => !p.startsWith('Signature=')).join('&');
      const parsed = await this.#idp.parseLoginRequest(this.#sp, 'redirect', { query: Object.fromEntries(url.searchParams), octetString } as never);
      if (url.searchParams.get('Signature')) this.signedRequests++;
      const requestId = (parsed.extract as { request: { id: string } }).request.id;
      return this.#page(res, loginForm(requestId, url.searchParams.get('RelayState') ?? ''));
    }
    if (url.pathname === '/sso/login' && req.method === 'POST') {
      const form = new URLSearchParams(await body(req));
      const requestId = form.get('request') ?? '';
      const relayState = form.get('relay') ?? '';
      if (form.get('cancel')) return this.#post(res, await this.response('', { inResponseTo: requestId, status: 'authn-failed' }), relayState);
      const username = form.get('username') ?? '';
      const user = this.#users[username];
      if (!user || user.password !== form.get('password')) return this.#page(res, loginForm(requestId, relayState, 'Wrong user name or password.'));
      return this.#post(res, await this.response(username, { inResponseTo: requestId }), relayState);
    }
    if (url.pathname === '/slo') {
      this.logouts++;
      return this.#page(res, '<h1>You are signed out of the test university</h1>');
    }
    res.writeHead(404);
    res.end();
  }

  #page(res: http.ServerResponse, content: string): void {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    res.end(`<!doctype html><html lang="en"><head><title>Test University sign-in</title></head><body><main>${content}</main></body></html>`);
  }

  /** The HTTP-POST binding: a form the browser submits to the SP's ACS by itself. */
  #post(res: http.ServerResponse, samlResponse: string, relayState: string): void {
    this.#page(
      res,
      `<form id="saml" method="post" action="${escapeXml(this.#spMeta.acsUrl)}"><input type="hidden" name="SAMLResponse" value="${samlResponse}"><input type="hidden" name="RelayState" value="${escapeXml(relayState)}"><noscript><button>Continue</button></noscript></form><script>document.getElementById('saml').submit()</script>`,
    );
  }

  /** The certificate the IdP signs with, base64 without PEM armour (for metadata the test writes). */
  get certificateBase64(): string {
    return stripPem(this.#keys.cert);
  }
}

function loginForm(requestId: string, relayState: string, error?: string): string {
  return `<h1>Test University</h1>${error ? `<p role="alert">${error}</p>` : ''}<form method="post" action="/sso/login">
<input type="hidden" name="request" value="${escapeXml(requestId)}"><input type="hidden" name="relay" value="${escapeXml(relayState)}">
<label>User name <input name="username" autocomplete="username"></label>
<label>Password <input name="password" type="password"></label>
<button type="submit">Log in</button> <button type="submit" name="cancel" value="1" formnovalidate>Cancel</button></form>`;
}

async function body(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
