/**
 * Debian's baresip and linphonec against the gateway process with its default settings:
 * they register, and call each other through it with audio both ways (plain RTP here; calls
 * with browsers, with WebRTC media, are in e2e/phones.spec.ts). Also what each does when the
 * gateway offers SHA-256 next to MD5 — the reason MD5 alone is the default (README).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayProcess } from '../../../test-support/gatewayProcess.js';
import { Baresip, ensurePhoneInterface, hasBaresip, hasLinphonec, Linphonec } from '../../../test-support/softphones.js';

const available = hasBaresip() && hasLinphonec() && ensurePhoneInterface() !== undefined;
const phones: Array<{ stop(): Promise<void> }> = [];
const gateways: GatewayProcess[] = [];

async function gateway(env: Record<string, string> = {}): Promise<GatewayProcess> {
  const gw = new GatewayProcess({ env });
  gw.addUser('bob', 'bob-secret-1');
  gw.addUser('carol', 'carol-secret-1');
  await gw.start();
  gateways.push(gw);
  return gw;
}

async function phone<P extends { start(): Promise<void>; stop(): Promise<void> }>(p: P): Promise<P> {
  phones.push(p);
  await p.start();
  return p;
}

afterAll(async () => {
  for (const p of phones) await p.stop();
  for (const g of gateways) await g.stop();
});

describe.skipIf(!available)('softphones with the default settings', () => {
  let gw: GatewayProcess;
  let bob: Baresip;
  let carol: Linphonec;

  beforeAll(async () => {
    gw = await gateway();
    bob = await phone(new Baresip({ user: 'bob', password: 'bob-secret-1', sipPort: gw.sipPort }));
    carol = await phone(new Linphonec({ user: 'carol', password: 'carol-secret-1', sipPort: gw.sipPort }));
  }, 60_000);

  it('baresip and linphonec register', async () => {
    expect((await bob.registration())[0]).toMatch(/200 OK/);
    expect((await carol.registration())[1]).toBe('LinphoneRegistrationOk');
  });

  it('baresip calls linphonec through the gateway, with audio both ways', async () => {
    await bob.registration();
    await carol.registration();
    const bobFrom = bob.output.length;
    const carolFrom = carol.logText().length;
    await bob.command('dial', 'sip:carol@localhost');
    await bob.waitFor(/Call established: sip:carol@localhost/, 20_000, bobFrom);
    await carol.waitFor(/moving from state LinphoneCallConnected to LinphoneCallStreamsRunning/, 20_000, carolFrom);
    // Each receives the other's RTP: baresip says so at once, linphone counts packets at the end.
    await bob.waitFor(/incoming rtp for 'audio' established/, 15_000, bobFrom);
    await new Promise((r) => setTimeout(r, 3000));
    await bob.command('hangup');
    await carol.waitFor(/LinphoneCallEnd/, 15_000, carolFrom);
    const [, packets] = await carol.waitFor(/ortp-message-received\s+(\d+) packets/, 5000, carolFrom);
    expect(Number(packets)).toBeGreaterThan(50); // 20 ms packets: about 150 in 3 s
  });
});

describe.skipIf(!available)('softphones when SHA-256 is offered too (PARLEY_SIP_DIGEST_ALGORITHMS=MD5,SHA-256)', () => {
  let gw: GatewayProcess;

  beforeAll(async () => {
    gw = await gateway({ PARLEY_SIP_DIGEST_ALGORITHMS: 'MD5,SHA-256' });
  }, 60_000);

  it('baresip 1.0 refuses the whole challenge although MD5 comes first', async () => {
    const bob = await phone(new Baresip({ user: 'bob', password: 'bob-secret-1', sipPort: gw.sipPort }));
    expect((await bob.registration())[0]).toMatch(/Register: Function not implemented/);
  });

  it('linphonec answers the topmost challenge it supports (RFC 8760): MD5', async () => {
    const carol = await phone(new Linphonec({ user: 'carol', password: 'carol-secret-1', sipPort: gw.sipPort }));
    expect((await carol.registration())[1]).toBe('LinphoneRegistrationOk');
    expect(carol.logText()).toMatch(/^Authorization: +Digest .*algorithm=MD5/m);
  });
});
