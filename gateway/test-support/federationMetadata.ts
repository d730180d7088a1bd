/**
 * A federation operator for tests: an aggregate (EntitiesDescriptor) of IdP metadata, with a
 * display name for each, signed with the operator's key by xml-crypto as federations sign theirs
 * (enveloped RSA-SHA256 signature over the whole aggregate).
 */
import selfsigned from 'selfsigned';
import { SignedXml } from 'xml-crypto';

export interface FederationOperator {
  key: string;
  cert: string;
}

export async function federationOperator(): Promise<FederationOperator> {
  const g = await selfsigned.generate([{ name: 'commonName', value: 'Test Federation metadata signer' }], { keySize: 2048, algorithm: 'sha256', days: 30 } as Parameters<typeof selfsigned.generate>[1]);
  return { key: g.private, cert: g.cert };
}

/** An IdP's EntityDescriptor with an mdui:DisplayName added (the chooser shows it). */
export function withDisplayName(entityDescriptor: string, name: string): string {
  return entityDescriptor
    .replace(/^<\?xml[^>]*>\s*/, '')
    .replace(
      /(<(?:md:)?IDPSSODescriptor[^>]*>)/,
      `$1<Extensions xmlns="urn:oasis:names:tc:SAML:2.0:metadata"><mdui:UIInfo xmlns:mdui="urn:oasis:names:tc:SAML:metadata:ui"><mdui:DisplayName xml:lang="en">${name}</mdui:DisplayName></mdui:UIInfo></Extensions>`,
    );
}

/** A made-up member IdP (in the list, nobody signs in there in the tests). */
export function fakeIdp(entityId: string, name: string, certBase64: string): string {
  return `<EntityDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="${entityId}"><IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><Extensions><mdui:UIInfo xmlns:mdui="urn:oasis:names:tc:SAML:metadata:ui"><mdui:DisplayName xml:lang="en">${name}</mdui:DisplayName></mdui:UIInfo></Extensions><KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>${certBase64}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></KeyDescriptor><SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="${entityId}/sso"/></IDPSSODescriptor></EntityDescriptor>`;
}

export function signedAggregate(entities: string[], operator: FederationOperator, validUntil = new Date(Date.now() + 86400_000)): string {
  const xml = `<EntitiesDescriptor xmlns="urn:oasis:names:tc:SAML:2.0:metadata" ID="_test-federation" Name="urn:test:federation" validUntil="${validUntil.toISOString()}">${entities.join('')}</EntitiesDescriptor>`;
  const sig = new SignedXml({
    privateKey: operator.key,
    publicCert: operator.cert,
    signatureAlgorithm: 'http://www.w3.org/2001/04/xmldsig-more#rsa-sha256',
    canonicalizationAlgorithm: 'http://www.w3.org/2001/10/xml-exc-c14n#',
  });
  sig.addReference({
    xpath: "/*[local-name(.)='EntitiesDescriptor']",
    transforms: ['http://www.w3.org/2000/09/xmldsig#enveloped-signature', 'http://www.w3.org/2001/10/xml-exc-c14n#'],
    digestAlgorithm: 'http://www.w3.org/2001/04/xmlenc#sha256',
  });
  sig.computeSignature(xml, { location: { reference: "/*[local-name(.)='EntitiesDescriptor']", action: 'prepend' } });
  return sig.getSignedXml();
}
