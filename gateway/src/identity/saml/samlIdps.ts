/** The IdP a `saml` provider entry names: from its metadata file, or its entity id, SSO URL and certificates. */
import fs from 'node:fs';
import type { SamlProviderConfig } from '../identityConfig.js';
import { parseIdpMetadata, type SamlIdpMetadata } from './samlMetadata.js';

export function samlIdpOf(p: SamlProviderConfig): SamlIdpMetadata {
  if (p.metadataFile) return parseIdpMetadata(fs.readFileSync(p.metadataFile, 'utf8'), `SAML provider "${p.id}" metadata ${p.metadataFile}`);
  return { entityId: p.entityId!, ssoUrl: p.ssoUrl!, sloUrl: p.sloUrl, certificates: p.certificates ?? [] };
}
