/**
 * Phones and XMPP clients: the user's app passwords, the settings to type into a client, and
 * the Linphone provisioning file a provisioning link opens (contracts/rest/devices.ts).
 */
import type { ServerResponse } from 'node:http';
import {
  newAppPasswordRequest,
  type AppPasswordList,
  type ClientSettings,
  type NewAppPasswordResponse,
} from '../../../../contracts/rest/devices.js';
import { AccountError, type AccountStore } from '../../directory/accountStore.js';
import type { AppPasswords } from '../../directory/appPasswords.js';
import { linphoneProvisioningXml } from '../../provisioning/linphoneConfig.js';
import { issueProvisioningToken, readProvisioningToken } from '../../provisioning/provisioningLinks.js';
import type { Logger } from '../../../../server-common/logger.js';
import { HttpError, readJson, sendJson } from '../httpUtil.js';
import type { Router } from '../router.js';
import type { AuthApi } from './authApi.js';

export interface DevicesApiOptions {
  auth: AuthApi;
  accounts: AccountStore;
  appPasswords: AppPasswords;
  maxPerUser: number;
  domain: string;
  /** Host phones and XMPP clients are told to reach (PARLEY_SIP_ADVERTISED_HOST or the domain). */
  serverHost: string;
  /** Ports as bound (0 when off). */
  ports: () => { sipUdpTcp: number; sipTls: number; xmpp: number };
  publicUrl: () => string;
  provisioningKey: Uint8Array;
  /** How long a provisioning link works. */
  provisioningSeconds: number;
  /** Provisioned phones use SIP over TLS (the operator configured a certificate phones trust), else UDP. */
  provisionTls: boolean;
  /** Seconds a provisioned phone asks its registrations to last. */
  registerExpires: number;
  logger: Logger;
}

export function registerDevicesApi(router: Router, o: DevicesApiOptions): void {
  router.add('GET', '/api/app-passwords', async (req, res) => {
    const me = (await o.auth.require(req)).session.username;
    sendJson(res, 200, { appPasswords: await o.appPasswords.list(me), max: o.maxPerUser } satisfies AppPasswordList);
  });

  router.add('POST', '/api/app-passwords', async (req, res) => {
    const me = (await o.auth.require(req)).session.username;
    const body = await readJson(req, newAppPasswordRequest);
    let made;
    try {
      made = await o.appPasswords.create(me, body.label, body.scopes);
    } catch (err) {
      if (err instanceof AccountError) throw new HttpError(err.code === 'exists' ? 409 : 400, err.code === 'exists' ? 'too_many_app_passwords' : 'invalid_app_password', err.message);
      throw err;
    }
    o.logger.info({ user: me, appPassword: made.appPassword.id, scopes: made.appPassword.scopes }, 'app password created');
    let provisioning: NewAppPasswordResponse['provisioning'];
    if (made.appPassword.scopes.includes('sip')) {
      const { token, expiresAt } = await issueProvisioningToken(
        { username: me, password: made.password, appPasswordId: made.appPassword.id },
        o.provisioningKey,
        o.provisioningSeconds,
      );
      provisioning = { linphoneUrl: `${o.publicUrl()}/provisioning/linphone/${token}`, expiresAt };
    }
    sendJson(res, 201, { ...made, provisioning } satisfies NewAppPasswordResponse, { 'Cache-Control': 'no-store' });
  });

  router.add('DELETE', '/api/app-passwords/:id', async (req, res, params) => {
    const me = (await o.auth.require(req)).session.username;
    if (!(await o.appPasswords.revoke(me, params.id))) throw new HttpError(404, 'no_such_app_password', 'There is no such app password (revoked already?)');
    o.logger.info({ user: me, appPassword: params.id }, 'app password revoked');
    sendJson(res, 200, { ok: true });
  });

  router.add('GET', '/api/client-settings', async (req, res) => {
    const me = (await o.auth.require(req)).session.username;
    const ports = o.ports();
    const base = o.publicUrl();
    const transports: ClientSettings['sip']['transports'] = [];
    if (ports.sipUdpTcp) transports.push({ transport: 'udp', port: ports.sipUdpTcp }, { transport: 'tcp', port: ports.sipUdpTcp });
    if (ports.sipTls) transports.push({ transport: 'tls', port: ports.sipTls });
    sendJson(res, 200, {
      username: me,
      domain: o.domain,
      sip: { address: `sip:${me}@${o.domain}`, server: o.serverHost, transports, realm: o.domain },
      xmpp: {
        jid: `${me}@${o.domain}`,
        server: o.serverHost,
        port: ports.xmpp,
        websocketUrl: `${base.replace(/^http/, 'ws')}/xmpp`,
        boshUrl: `${base}/http-bind`,
      },
    } satisfies ClientSettings);
  });

  router.add('GET', '/provisioning/linphone/:token', async (req, res, params) => {
    const read = await readProvisioningToken(params.token, o.provisioningKey);
    if (!read.ok) return plain(res, 410, read.reason);
    const { username, password, appPasswordId } = read.claims;
    // The app password may have been revoked since the link was made.
    if (!(await o.appPasswords.ids(username)).has(appPasswordId)) return plain(res, 410, 'The app password of this link was revoked.');
    const account = await o.accounts.get(username);
    if (!account || account.disabledAt !== undefined) return plain(res, 410, 'This account is not available.');
    const ports = o.ports();
    const tls = o.provisionTls && ports.sipTls > 0;
    const xml = linphoneProvisioningXml({
      username,
      displayName: account.displayName,
      domain: o.domain,
      password,
      proxyHost: o.serverHost,
      proxyPort: tls ? ports.sipTls : ports.sipUdpTcp,
      transport: tls ? 'tls' : 'udp',
      registerExpires: o.registerExpires,
    });
    o.logger.info({ user: username, appPassword: appPasswordId }, 'provisioning file fetched');
    res.writeHead(200, { 'Content-Type': 'application/xml; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(xml);
  });
}

function plain(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(`${text}\n`);
}
