/**
 * Sign-in with a SAML 2.0 IdP (@node-saml/node-saml as the service provider): an AuthnRequest
 * over HTTP-Redirect, the Response back over HTTP-POST to the one assertion consumer service.
 * Refused unless the response or its assertion is signed by the IdP's certificate, the audience
 * is this SP, Destination and Recipient are the ACS, it is within NotBefore/NotOnOrAfter, and its
 * InResponseTo names a request this SP sent and no response has used (saml_requests, shared by
 * every node: a replayed response finds its id gone).
 */
import type { Element as XmlElement } from '@xmldom/xmldom';
import { SAML, ValidateInResponseTo, type CacheProvider, type Profile } from '@node-saml/node-saml';
import type { Logger } from '../../../../server-common/logger.js';
import type { SamlRequestRecords } from '../../storage/records/samlRequestRecords.js';
import type { VerifiedIdentity } from '../externalAccounts.js';
import { SAML_REQUEST_MS, SignInFailed } from '../signInFailed.js';
import { parseXml, type SamlIdpMetadata } from './samlMetadata.js';

export interface SamlServiceProvider {
  entityId: string;
  acsUrl: string;
  /** Signs AuthnRequests and decrypts encrypted assertions (PEM). */
  privateKey: string;
  certificate: string;
}

export interface SamlIdp extends SamlIdpMetadata {
  /** The provider id its users' identities are kept under. */
  id: string;
  name: string;
}

/** What a SAML logout needs of the session (LogoutRequest NameID and SessionIndex). */
export interface SamlLogoutInfo {
  nameID: string;
  nameIDFormat?: string;
  sessionIndex?: string;
}

const PERSISTENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:persistent';
const TRANSIENT = 'urn:oasis:names:tc:SAML:2.0:nameid-format:transient';
/** Attributes that name a person stably when the NameID is transient (SAML subject-id, pairwise-id, eduPerson). */
const SUBJECT_ATTRIBUTES = [
  'urn:oasis:names:tc:SAML:attribute:subject-id',
  'urn:oasis:names:tc:SAML:attribute:pairwise-id',
  'urn:oid:1.3.6.1.4.1.5923.1.1.1.10',
  'eduPersonTargetedID',
  'urn:oid:1.3.6.1.4.1.5923.1.1.1.6',
  'eduPersonPrincipalName',
];

export class SamlSignIn {
  constructor(
    readonly idp: SamlIdp,
    private readonly sp: () => Promise<SamlServiceProvider>,
    private readonly requests: SamlRequestRecords,
    private readonly log: Logger,
  ) {}

  /** The IdP's URL (with the signed AuthnRequest) to send the browser to. */
  async start(relayState: string): Promise<string> {
    return (await this.#saml(this.#cache())).getAuthorizeUrlAsync(relayState, undefined, {});
  }

  /** Checks a posted Response; who the IdP says the person is, and what logout needs. */
  async finish(form: Record<string, string>): Promise<{ identity: VerifiedIdentity; logout: SamlLogoutInfo }> {
    if (!form.SAMLResponse) throw new SignInFailed('invalid_response', 'The sign-in answer is missing. Start again from the sign-in page.');
    const sp = await this.sp();
    const cache = this.#cache();
    let profile: Profile | null;
    try {
      ({ profile } = await (await this.#saml(cache)).validatePostResponseAsync({ SAMLResponse: form.SAMLResponse, RelayState: form.RelayState ?? '' }));
    } catch (err) {
      throw this.#refusal(err);
    }
    // Two copies of one response posted at once both pass the lookup; only one removes the id.
    if (!cache.removed) throw this.#refusal(new Error('InResponseTo was used already'));
    if (!profile) throw new SignInFailed('invalid_response', `${this.idp.name} did not sign you in. Start again from the sign-in page.`);
    if (profile.issuer !== this.idp.entityId) {
      this.log.warn({ provider: this.idp.id, issuer: profile.issuer }, 'SAML response from another issuer');
      throw new SignInFailed('invalid_response', `The answer did not come from ${this.idp.name}. Ask your administrator.`);
    }
    this.#checkAddressedToUs(Buffer.from(form.SAMLResponse, 'base64').toString('utf8'), sp.acsUrl);
    const attributes = { ...(profile.attributes as Record<string, unknown> | undefined), ...profile } as Record<string, unknown>;
    const subject = this.#subjectOf(profile, attributes);
    if (!subject) throw new SignInFailed('invalid_response', `${this.idp.name} did not say who you are. Ask your administrator.`);
    return {
      identity: { provider: this.idp.id, subject, attributes },
      logout: { nameID: profile.nameID, nameIDFormat: profile.nameIDFormat, sessionIndex: profile.sessionIndex },
    };
  }

  /** The IdP's single-logout URL for this session (a signed LogoutRequest), when it has one. */
  async logoutUrl(info: SamlLogoutInfo, relayState: string): Promise<string | undefined> {
    if (!this.idp.sloUrl) return undefined;
    const profile = { issuer: this.idp.entityId, nameID: info.nameID, nameIDFormat: info.nameIDFormat ?? PERSISTENT, sessionIndex: info.sessionIndex } as Profile;
    return (await this.#saml(this.#cache())).getLogoutUrlAsync(profile, relayState, {});
  }

  #subjectOf(profile: Profile, attributes: Record<string, unknown>): string | undefined {
    if (profile.nameID && profile.nameIDFormat === PERSISTENT) return profile.nameID;
    for (const name of SUBJECT_ATTRIBUTES) {
      const v = attributes[name];
      const value = Array.isArray(v) ? v[0] : v;
      if (typeof value === 'string' && value) return value;
    }
    return profile.nameID && profile.nameIDFormat !== TRANSIENT ? profile.nameID : undefined;
  }

  /** Destination (on the Response) and Recipient (on its subject confirmation) must be our ACS when present. */
  #checkAddressedToUs(xml: string, acsUrl: string): void {
    const doc = parseXml(xml, 'SAML response');
    const destination = doc.documentElement?.getAttribute('Destination');
    const recipients = Array.from(doc.getElementsByTagNameNS('urn:oasis:names:tc:SAML:2.0:assertion', 'SubjectConfirmationData')).map((e) => (e as XmlElement).getAttribute('Recipient'));
    if ((destination && destination !== acsUrl) || recipients.some((r) => r && r !== acsUrl)) {
      this.log.warn({ provider: this.idp.id, destination, recipients }, 'SAML response addressed elsewhere');
      throw new SignInFailed('invalid_response', `The answer from ${this.idp.name} was meant for another service. Ask your administrator.`);
    }
  }

  #refusal(err: unknown): SignInFailed {
    const message = (err as Error)?.message ?? String(err);
    this.log.warn({ provider: this.idp.id, err: message }, 'SAML sign-in refused');
    if (/InResponseTo/i.test(message)) {
      return new SignInFailed('state_mismatch', 'This sign-in answer was used already or was not asked for by this browser. Start again from the sign-in page.');
    }
    // An assertion past its NotOnOrAfter, or whose only bearer confirmation is (node-saml's words).
    if (/expired|NotOnOrAfter|NotBefore|too old|No valid subject confirmation/i.test(message)) return new SignInFailed('expired', `The answer from ${this.idp.name} has expired. Start again from the sign-in page.`);
    if (/audience/i.test(message)) return new SignInFailed('invalid_response', `The answer from ${this.idp.name} was meant for another service (audience). Ask your administrator.`);
    if (/signature|signed/i.test(message)) return new SignInFailed('invalid_response', `The answer from ${this.idp.name} is not signed with its key. Ask your administrator.`);
    if (/AuthnFailed|RequestDenied|NoPassive|Responder|Requester/i.test(message)) return new SignInFailed('cancelled', `The sign-in at ${this.idp.name} did not complete (it was cancelled or refused). You can try again.`);
    return new SignInFailed('invalid_response', `${this.idp.name} sent an answer Parley cannot accept (it is logged for your administrator). Try again.`);
  }

  /** node-saml's request-id cache over saml_requests; notes whether this validation took its id. */
  #cache(): CacheProvider & { removed: boolean } {
    const requests = this.requests;
    const cache = {
      removed: false,
      async saveAsync(key: string, value: string) {
        const now = Date.now();
        await requests.save(key, now);
        return { value, createdAt: now };
      },
      async getAsync(key: string) {
        const at = await requests.createdAt(key);
        return at === undefined ? null : new Date(at).toISOString();
      },
      async removeAsync(key: string | null) {
        if (!key) return null;
        if (await requests.take(key, 0)) cache.removed = true;
        return key;
      },
    };
    return cache;
  }

  async #saml(cacheProvider: CacheProvider): Promise<SAML> {
    const sp = await this.sp();
    return new SAML({
      issuer: sp.entityId,
      callbackUrl: sp.acsUrl,
      audience: sp.entityId,
      entryPoint: this.idp.ssoUrl,
      logoutUrl: this.idp.sloUrl ?? this.idp.ssoUrl,
      idpCert: this.idp.certificates,
      idpIssuer: this.idp.entityId,
      privateKey: sp.privateKey,
      publicCert: sp.certificate,
      decryptionPvk: sp.privateKey,
      signatureAlgorithm: 'sha256',
      digestAlgorithm: 'sha256',
      // Either the response or its assertion signed by the IdP (Shibboleth signs the response by default, others the assertion).
      wantAuthnResponseSigned: false,
      wantAssertionsSigned: false,
      validateInResponseTo: ValidateInResponseTo.always,
      requestIdExpirationPeriodMs: SAML_REQUEST_MS,
      cacheProvider,
      identifierFormat: null,
      disableRequestedAuthnContext: true,
      acceptedClockSkewMs: 60_000,
      maxAssertionAgeMs: SAML_REQUEST_MS,
    });
  }
}

/** This service provider's metadata (entity id, ACS, signing and encryption certificate), for IdPs and federations. */
export function serviceProviderMetadata(sp: SamlServiceProvider): string {
  const saml = new SAML({ issuer: sp.entityId, callbackUrl: sp.acsUrl, idpCert: sp.certificate, privateKey: sp.privateKey, publicCert: sp.certificate, identifierFormat: null });
  return saml.generateServiceProviderMetadata(sp.certificate, sp.certificate);
}
