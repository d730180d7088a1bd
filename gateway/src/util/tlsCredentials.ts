/**
 * The certificate for XMPP STARTTLS and SIP over TLS: from configured files (PARLEY_XMPP_TLS_CERT/KEY,
 * PARLEY_SIP_TLS_CERT/KEY), or a self-signed one generated
 * at first start into the data directory (and reused afterwards).
 */
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import selfsigned from 'selfsigned';

export async function loadTlsContext(dataDir: string, domain: string, certFile?: string, keyFile?: string): Promise<tls.SecureContext> {
  let cert: string;
  let key: string;
  if (certFile && keyFile) {
    cert = fs.readFileSync(certFile, 'utf8');
    key = fs.readFileSync(keyFile, 'utf8');
  } else {
    const certPath = path.join(dataDir, 'xmpp-tls.crt');
    const keyPath = path.join(dataDir, 'xmpp-tls.key');
    if (fs.existsSync(certPath) && fs.existsSync(keyPath)) {
      cert = fs.readFileSync(certPath, 'utf8');
      key = fs.readFileSync(keyPath, 'utf8');
    } else {
      const generated = await selfsigned.generate([{ name: 'commonName', value: domain }], {
        keySize: 2048,
        algorithm: 'sha256',
        extensions: [{ name: 'subjectAltName', altNames: [{ type: 2, value: domain }, { type: 2, value: `conference.${domain}` }] }],
      } as Parameters<typeof selfsigned.generate>[1]);
      cert = generated.cert;
      key = generated.private;
      fs.writeFileSync(keyPath, key, { mode: 0o600 });
      fs.writeFileSync(certPath, cert, { mode: 0o644 });
    }
  }
  return tls.createSecureContext({ cert, key, minVersion: 'TLSv1.2' });
}
