/**
 * Linphone's remote provisioning file: its linphonerc as XML (lpconfig.xsd), with one SIP
 * account (`proxy_0`) and its credentials (`auth_info_0`). Linphone on phones and desktops,
 * and liblinphone-based clients (linphonec with `[misc] config-uri`), import it.
 */

export interface LinphoneAccount {
  username: string;
  displayName: string;
  domain: string;
  password: string;
  /** Where the phone sends its REGISTER: host and port, and the transport it uses. */
  proxyHost: string;
  proxyPort: number;
  transport: 'udp' | 'tcp' | 'tls';
  registerExpires: number;
}

const escapeXml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** SIP display names are quoted strings (RFC 3261 §25.1): backslash-escape `"` and `\`. */
const quoted = (s: string) => `"${s.replace(/[\\"]/g, (c) => `\\${c}`)}"`;

export function linphoneProvisioningXml(a: LinphoneAccount): string {
  const entry = (name: string, value: string | number) => `    <entry name="${name}">${escapeXml(String(value))}</entry>`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    '<config xmlns="http://www.linphone.org/xsds/lpconfig.xsd" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:schemaLocation="http://www.linphone.org/xsds/lpconfig.xsd lpconfig.xsd">',
    '  <section name="proxy_0">',
    entry('reg_identity', `${quoted(a.displayName)} <sip:${a.username}@${a.domain}>`),
    entry('reg_proxy', `<sip:${a.proxyHost}:${a.proxyPort};transport=${a.transport}>`),
    entry('reg_expires', a.registerExpires),
    entry('reg_sendregister', 1),
    entry('realm', a.domain),
    '  </section>',
    '  <section name="auth_info_0">',
    entry('username', a.username),
    entry('passwd', a.password),
    entry('realm', a.domain),
    entry('domain', a.domain),
    '  </section>',
    '</config>',
    '',
  ].join('\n');
}
