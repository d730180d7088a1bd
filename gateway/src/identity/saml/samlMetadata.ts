/**
 * What a SAML 2.0 IdP's metadata (an EntityDescriptor, or each one in a federation's
 * EntitiesDescriptor) says this service provider needs: its entity id, where to send the
 * browser (HTTP-Redirect SSO and SLO), the certificates it signs with, and the name to show.
 */
import { DOMParser, type Document as XmlDocument, type Element as XmlElement } from '@xmldom/xmldom';

const MD = 'urn:oasis:names:tc:SAML:2.0:metadata';
const DS = 'http://www.w3.org/2000/09/xmldsig#';
const MDUI = 'urn:oasis:names:tc:SAML:metadata:ui';
const REDIRECT = 'urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect';

export interface SamlIdpMetadata {
  entityId: string;
  ssoUrl: string;
  sloUrl?: string;
  /** PEM certificates it signs responses and assertions with. */
  certificates: string[];
  /** mdui:DisplayName (English first) or the organisation's name, when the metadata has one. */
  displayName?: string;
}

export class SamlMetadataError extends Error {}

/** Parses XML that must not carry a DTD (no entity expansion from a metadata file). */
export function parseXml(xml: string, what: string): XmlDocument {
  if (/<!DOCTYPE/i.test(xml)) throw new SamlMetadataError(`${what}: a DOCTYPE is not allowed`);
  let doc;
  try {
    doc = new DOMParser({
      onError: (level, message) => {
        if (level !== 'warning') throw new Error(message);
      },
    }).parseFromString(xml, 'text/xml');
  } catch (err) {
    throw new SamlMetadataError(`${what}: not well-formed XML (${(err as Error).message.split('\n')[0]})`);
  }
  if (!doc?.documentElement) throw new SamlMetadataError(`${what}: empty`);
  return doc;
}

const children = (e: XmlElement, ns: string, name: string): XmlElement[] =>
  Array.from(e.childNodes).filter((n): n is XmlElement => n.nodeType === 1 && (n as XmlElement).namespaceURI === ns && (n as XmlElement).localName === name);

const pem = (base64: string) => `-----BEGIN CERTIFICATE-----\n${base64.replace(/\s+/g, '').replace(/(.{64})/g, '$1\n').replace(/\n$/, '')}\n-----END CERTIFICATE-----\n`;

/** The IdPs an EntityDescriptor or EntitiesDescriptor element describes (entities without an IdP role are skipped). */
export function idpsOf(root: XmlElement): SamlIdpMetadata[] {
  if (root.namespaceURI === MD && root.localName === 'EntitiesDescriptor') {
    return [...children(root, MD, 'EntitiesDescriptor').flatMap(idpsOf), ...children(root, MD, 'EntityDescriptor').flatMap(idpsOf)];
  }
  if (root.namespaceURI !== MD || root.localName !== 'EntityDescriptor') return [];
  const entityId = root.getAttribute('entityID');
  const idp = children(root, MD, 'IDPSSODescriptor').find((d) => (d.getAttribute('protocolSupportEnumeration') ?? '').includes('urn:oasis:names:tc:SAML:2.0:protocol'));
  if (!entityId || !idp) return [];
  const sso = children(idp, MD, 'SingleSignOnService').find((s) => s.getAttribute('Binding') === REDIRECT)?.getAttribute('Location');
  if (!sso) return [];
  const slo = children(idp, MD, 'SingleLogoutService').find((s) => s.getAttribute('Binding') === REDIRECT)?.getAttribute('Location') ?? undefined;
  const certificates = children(idp, MD, 'KeyDescriptor')
    .filter((k) => (k.getAttribute('use') ?? 'signing') === 'signing')
    .flatMap((k) => children(k, DS, 'KeyInfo'))
    .flatMap((ki) => children(ki, DS, 'X509Data'))
    .flatMap((x) => children(x, DS, 'X509Certificate'))
    .map((c) => pem(c.textContent ?? ''));
  if (!certificates.length) return [];
  const names = [
    ...children(idp, MD, 'Extensions')
      .flatMap((ext) => children(ext, MDUI, 'UIInfo'))
      .flatMap((ui) => children(ui, MDUI, 'DisplayName')),
    ...children(root, MD, 'Organization').flatMap((o) => children(o, MD, 'OrganizationDisplayName')),
  ];
  const english = names.find((n) => n.getAttributeNS('http://www.w3.org/XML/1998/namespace', 'lang') === 'en') ?? names[0];
  return [{ entityId, ssoUrl: sso, sloUrl: slo, certificates, displayName: english?.textContent?.trim() || undefined }];
}

/** The one IdP a metadata file describes. */
export function parseIdpMetadata(xml: string, what: string): SamlIdpMetadata {
  const doc = parseXml(xml, what);
  const idps = idpsOf(doc.documentElement!);
  if (idps.length !== 1) throw new SamlMetadataError(`${what}: expected the metadata of one SAML 2.0 IdP with an HTTP-Redirect SSO service and a signing certificate, found ${idps.length}`);
  return idps[0];
}
