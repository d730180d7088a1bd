/**
 * This service provider's SAML key and certificate: from the providers file, or generated once
 * (RSA 2048, self-signed, ten years — IdPs trust it through the SP metadata, not a CA) and kept
 * in the shared secrets, so every gateway node signs and decrypts with the same pair.
 */
import selfsigned from 'selfsigned';
import type { SecretRecords } from '../../storage/records/secretRecords.js';

export async function samlCredentials(
  configured: { privateKey?: string; certificate?: string },
  secrets: SecretRecords,
  domain: string,
): Promise<{ privateKey: string; certificate: string }> {
  if (configured.privateKey && configured.certificate) return { privateKey: configured.privateKey, certificate: configured.certificate };
  const generated = await selfsigned.generate([{ name: 'commonName', value: domain }], {
    keySize: 2048,
    algorithm: 'sha256',
    days: 3650,
  } as Parameters<typeof selfsigned.generate>[1]);
  // One secret for the pair: two nodes generating at once keep the same key and certificate.
  const stored = JSON.parse(await secrets.getOrCreate('saml-sp-credentials', JSON.stringify({ privateKey: generated.private, certificate: generated.cert }))) as {
    privateKey: string;
    certificate: string;
  };
  return stored;
}
