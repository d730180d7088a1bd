/**
 * Interop with Debian's sipp against the gateway running as its own process (as `npm start`
 * runs it): digest REGISTER for many users, and an authenticated call sipp UAC → gateway →
 * sipp UAS (INVITE/407/ACK/INVITE/100/180/200/ACK/BYE/200).
 *
 * sipp 3.6.1 answers only the first challenge of a 401/407 and knows no SHA-256: the gateway
 * runs with its defaults (MD5 first), which is what lets such clients in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayProcess } from '../../../test-support/gatewayProcess.js';
import { freeTcpUdpPort } from '../../../../server-common/test-support/ports.js';
import { hasSipp, runSipp, sippCalls, sippRegister } from '../../../test-support/sipp.js';

const PASSWORD = 'sipp-secret-1';
let gw: GatewayProcess;

describe.skipIf(!hasSipp())('sipp interop', () => {
  beforeAll(async () => {
    gw = new GatewayProcess();
    for (let i = 0; i < 10; i++) gw.addUser(`sippuser${i}`, PASSWORD);
    gw.addUser('alice', PASSWORD);
    gw.addUser('bob', PASSWORD);
    await gw.start();
  }, 60_000);

  afterAll(async () => {
    await gw?.stop();
  });

  it('registers ten users with digest authentication from an injection file', async () => {
    const uasPort = await freeTcpUdpPort();
    const rows = Array.from({ length: 10 }, (_, i) => `sippuser${i};[authentication username=sippuser${i} password=${PASSWORD}];localhost;127.0.0.1:${uasPort}`);
    const r = await runSipp({
      scenario: 'register.xml',
      remote: `127.0.0.1:${gw.sipPort}`,
      localPort: await freeTcpUdpPort(),
      calls: 10,
      csv: `SEQUENTIAL\n${rows.join('\n')}\n`,
    }).done;
    expect(r.failed, r.output).toBe(0);
    expect(r.successful, r.output).toBe(10);
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/parley_sip_bindings 10\b/);
  });

  it('a wrong password is refused (sipp sees 403 instead of 200 and fails the call)', async () => {
    const r = await runSipp({
      scenario: 'register.xml',
      remote: `127.0.0.1:${gw.sipPort}`,
      localPort: await freeTcpUdpPort(),
      calls: 1,
      csv: `SEQUENTIAL\nsippuser0;[authentication username=sippuser0 password=wrong];localhost;127.0.0.1:5999\n`,
    }).done;
    expect(r.successful).toBe(0);
    expect(r.output).toMatch(/403/);
  });

  it('routes an authenticated call from a sipp UAC to a registered sipp UAS and back', async () => {
    const uasPort = await freeTcpUdpPort();
    const reg = await sippRegister(gw.sipPort, 'bob', PASSWORD, uasPort, await freeTcpUdpPort());
    expect(reg.successful, reg.output).toBe(1);

    const uas = runSipp({ scenario: 'uas-answer.xml', localPort: uasPort, calls: 5 });
    const uac = await sippCalls({ sipPort: gw.sipPort, localPort: await freeTcpUdpPort(), caller: 'alice', password: PASSWORD, callee: 'bob', calls: 5 });
    const uasResult = await uas.done;
    expect(uac.failed, uac.output).toBe(0);
    expect(uac.successful, uac.output).toBe(5);
    expect(uasResult.successful, uasResult.output).toBe(5);
  });
});
