/**
 * A SAML federation's metadata aggregate: one EntitiesDescriptor listing many IdPs, signed by
 * the federation operator. It counts only when that signature verifies with the operator's
 * certificate from the configuration (never a certificate the file carries itself — xml-crypto's
 * KeyInfo lookup is turned off), covers the whole aggregate (the reference is the root), and
 * `validUntil` has not passed. The IdPs are read from what was signed, not from the file around
 * it, so nothing can be wrapped in beside the signature.
 */
import type { Element as XmlElement } from '@xmldom/xmldom';
import { SignedXml } from 'xml-crypto';
import { idpsOf, parseXml, SamlMetadataError, type SamlIdpMetadata } from './samlMetadata.js';

const DS = 'http://www.w3.org/2000/09/xmldsig#';

export interface FederationMetadata {
  idps: SamlIdpMetadata[];
  validUntil?: number;
}

export function verifyFederationMetadata(xml: string, signingCertificate: string, what: string, now = Date.now()): FederationMetadata {
  const doc = parseXml(xml, what);
  const root = doc.documentElement!;
  if (root.localName !== 'EntitiesDescriptor') throw new SamlMetadataError(`${what}: not a federation aggregate (an EntitiesDescriptor)`);
  const signatures = Array.from(root.childNodes).filter((n): n is XmlElement => n.nodeType === 1 && (n as XmlElement).namespaceURI === DS && (n as XmlElement).localName === 'Signature');
  if (signatures.length !== 1) throw new SamlMetadataError(`${what}: the aggregate must carry exactly one signature of the federation (found ${signatures.length})`);
  const verifier = new SignedXml({ publicCert: signingCertificate });
  // Only the configured certificate: a key the document brings would prove nothing.
  verifier.getCertFromKeyInfo = () => null;
  verifier.loadSignature(signatures[0].toString());
  let valid = false;
  try {
    valid = verifier.checkSignature(xml);
  } catch (err) {
    throw new SamlMetadataError(`${what}: the federation's signature does not verify (${(err as Error).message.split('\n')[0]})`);
  }
  if (!valid) throw new SamlMetadataError(`${what}: the federation's signature does not verify`);
  const references = verifier.getReferences();
  const rootId = root.getAttribute('ID');
  if (references.length !== 1 || !(references[0].uri === '' || (rootId && references[0].uri === `#${rootId}`))) {
    throw new SamlMetadataError(`${what}: the federation's signature does not cover the whole aggregate`);
  }
  const signed = parseXml(verifier.getSignedReferences()[0], `${what} (signed part)`).documentElement!;
  const until = signed.getAttribute('validUntil');
  const validUntil = until ? Date.parse(until) : undefined;
  if (validUntil !== undefined && (Number.isNaN(validUntil) || validUntil < now)) {
    throw new SamlMetadataError(`${what}: the aggregate expired (validUntil ${until}); fetch the federation's current metadata`);
  }
  return { idps: idpsOf(signed), validUntil };
}
