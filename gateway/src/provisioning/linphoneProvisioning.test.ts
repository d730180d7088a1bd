/**
 * Remote provisioning as a softphone does it: Debian's linphonec (liblinphone 5) is given only
 * the provisioning link a user gets with a SIP app password (what Linphone reads from the QR
 * code), imports its account from the XML, and registers with that app password.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newAppPasswordResponse } from '../../../contracts/rest/devices.js';
import { api, signIn } from '../../../server-common/test-support/restClient.js';
import { hasLinphonec, Linphonec } from '../../test-support/softphones.js';
import { startTestGateway, TEST_PASSWORD, type TestGateway } from '../../test-support/testGateway.js';

let gw: TestGateway;

beforeAll(async () => {
  // Links name the address phones reach (PARLEY_PUBLIC_URL); here the test's loopback address.
  gw = await startTestGateway({ PARLEY_PUBLIC_URL: 'http://127.0.0.1:0' });
  await gw.addUser('lina', TEST_PASSWORD, 'Lina Phone');
});

afterAll(async () => {
  await gw?.stop();
});

describe.skipIf(!hasLinphonec())('Linphone remote provisioning', () => {
  it('linphonec imports its account from the provisioning link and registers with the app password', async () => {
    const cookie = await signIn(gw.url, 'lina', TEST_PASSWORD);
    const made = newAppPasswordResponse.parse((await api(gw.url, 'POST', '/api/app-passwords', { cookie, body: { label: 'Linphone', scopes: ['sip'] } })).body);
    const phone = new Linphonec({ user: 'unused', password: 'unused', sipPort: gw.sipPort, provisioningUri: made.provisioning!.linphoneUrl });
    try {
      await phone.start();
      const [, state] = await phone.registration(20_000);
      expect(state).toBe('LinphoneRegistrationOk');
      expect((await gw.gateway.locations.list('lina@localhost')).map((b) => b.credential)).toEqual([`app:${made.appPassword.id}`]);
      const config = phone.configText();
      expect(config).toContain('reg_identity="Lina Phone" <sip:lina@localhost>');
      expect(config).toContain(`reg_proxy=<sip:127.0.0.1:${gw.sipPort};transport=udp>`);
    } finally {
      await phone.stop();
    }
  });
});
