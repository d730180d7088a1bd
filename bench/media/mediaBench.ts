/**
 * Media bridge benchmark (`npm run bench -- media`): how many bridged calls one rtpengine on
 * this machine holds at once, and what each costs.
 *
 * Each call is a sipp caller playing Debian sip-tester's recorded G.711 A-law stream (21 s, the
 * 7 s pcap of 30 ms packets three times) through the gateway and rtpengine (PARLEY_MEDIA_BRIDGE_ALWAYS, so
 * every call is bridged) to a sipp callee that echoes every RTP packet back (rtp_echo). Both
 * legs are plain RTP: the WebRTC leg's ICE and DTLS-SRTP of a browser call are not in these
 * figures (a browser per call is not something one machine can run hundreds of). Two kinds:
 * the callee answers A-law (rtpengine forwards), or µ-law (rtpengine decodes and encodes every
 * packet both ways).
 *
 * At each level every call is set up within about a second; then rtpengine's CPU and its
 * per-call counters are read over 2 s of steady media: the loss is the packets it got back from
 * the echoing side against the packets it got from the caller in those 2 s (a packet it failed
 * to forward never comes back). The table stops at the first level losing more than 1 %.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RtpengineProcess } from '../../gateway/test-support/rtpengine.js';
import { SCENARIOS } from '../../gateway/test-support/sipp.js';
import { freeTcpUdpPort } from '../../server-common/test-support/ports.js';
import { sipp } from '../sip/sippRunner.js';
import { measureBrowserLevel } from './browserLeg.js';
import { BENCH_PASSWORD, cpuSeconds, startBenchGateway } from '../support/benchEnv.js';

const LEVELS = (process.env.BENCH_MEDIA_CALLS ?? '25,50,100,200,400').split(',').map(Number);
const LOSS_LIMIT = 0.01;
/** g711a.pcap: 236 packets of 30 ms. */
const PCAP_MS = 7050;

interface LevelResult {
  calls: number;
  held: number;
  rtpengineCpuShare: number;
  gatewayCpuMsPerCall: number;
  loss: number;
  transcoded: number;
  failed: number;
}

/** The caller scenario with the pcap played three times back to back (about 21 s of media). */
function longCallerScenario(work: string): string {
  const base = fs.readFileSync(path.join(SCENARIOS, 'uac-pcap-call.xml'), 'utf8');
  const play = '<nop>\n    <action>\n      <exec play_pcap_audio="/usr/share/sip-tester/g711a.pcap"/>\n    </action>\n  </nop>';
  const body = base.replace(`${play}\n  <pause/>`, [play, `<pause milliseconds="${PCAP_MS}"/>`, play, `<pause milliseconds="${PCAP_MS}"/>`, play, `<pause milliseconds="${PCAP_MS + 300}"/>`].join('\n  '));
  if (body === base) throw new Error('uac-pcap-call.xml changed: cannot find its play/pause');
  const file = path.join(work, 'uac-long.xml');
  fs.writeFileSync(file, body);
  return file;
}

/** The answering scenario, answering A-law (forwarded as it is) or µ-law (transcoded). */
function calleeScenario(work: string, codec: 'PCMA' | 'PCMU'): string {
  const base = fs.readFileSync(path.join(SCENARIOS, 'uas-answer.xml'), 'utf8');
  // 30 ms packets like the caller's, so that rtpengine's encoder sends as many packets as it gets.
  const pcmu = base.replace('a=rtpmap:0 PCMU/8000', 'a=rtpmap:0 PCMU/8000\n      a=ptime:30');
  const body = codec === 'PCMU' ? pcmu : pcmu.replace('RTP/AVP 0', 'RTP/AVP 8').replace('a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000');
  const file = path.join(work, `uas-${codec}.xml`);
  fs.writeFileSync(file, body);
  return file;
}

async function measureLevel(calls: number, codec: 'PCMA' | 'PCMU'): Promise<LevelResult> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-media-bench-'));
  const rtpengine = new RtpengineProcess({ mediaPorts: Math.max(200, calls * 4 + 200), timeoutSeconds: 60, logLevel: 3 });
  await rtpengine.start();
  const gw = await startBenchGateway(10, {
    PARLEY_MEDIA_BRIDGE: rtpengine.url,
    PARLEY_MEDIA_BRIDGE_ALWAYS: 'true',
    PARLEY_MEDIA_BRIDGE_MAX_CALLS: String(calls * 2),
    PARLEY_SIP_RATE_PER_IP: '0',
  });
  const remote = `127.0.0.1:${gw.sipPort}`;
  const [uasPort, uacPort, regPort, uasMedia, uacMedia] = await Promise.all([1, 2, 3, 4, 5].map(() => freeTcpUdpPort()));
  fs.writeFileSync(path.join(work, 'callee.csv'), `SEQUENTIAL\nu0;[authentication username=u0 password=${BENCH_PASSWORD}];localhost;127.0.0.1:${uasPort}\n`);
  fs.writeFileSync(path.join(work, 'caller.csv'), `SEQUENTIAL\nu1;[authentication username=u1 password=${BENCH_PASSWORD}];localhost;u0\n`);
  try {
    const reg = await sipp([remote, '-sf', path.join(SCENARIOS, 'register.xml'), '-inf', 'callee.csv', '-p', String(regPort), '-m', '1'], work).done;
    if (reg.successful !== 1) throw new Error(`callee did not register:\n${reg.output.slice(-2000)}`);
    const uas = sipp(['-sf', calleeScenario(work, codec), '-p', String(uasPort), '-m', String(calls), '-rtp_echo', '-mp', String(uasMedia)], work);
    const gwCpu0 = cpuSeconds(gw.pid);
    const uac = sipp(
      [remote, '-sf', longCallerScenario(work), '-inf', 'caller.csv', '-p', String(uacPort), '-m', String(calls), '-r', String(calls), '-l', String(calls), '-mp', String(uacMedia)],
      work,
    );
    // Every call up (or 10 s gone), then a moment for the media to settle.
    const upBy = Date.now() + 10_000;
    while ((await rtpengine.sessions()) < calls && Date.now() < upBy) await new Promise((r) => setTimeout(r, 100));
    const held = await rtpengine.sessions();
    await new Promise((r) => setTimeout(r, 500));
    const before = new Map((await rtpengine.packetsReceived()).map((c) => [c.callId, c.bySide]));
    const rtp0 = cpuSeconds(rtpengine.pid!);
    const t0 = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, 2000));
    const rtpengineCpuShare = (cpuSeconds(rtpengine.pid!) - rtp0) / (Number(process.hrtime.bigint() - t0) / 1e9);
    const after = await rtpengine.packetsReceived();
    const transcoded = await rtpengine.transcodedMedia();
    // Over the same 2 s: what came from the caller, and what came back from the echoing callee.
    let fromCaller = 0;
    let echoed = 0;
    for (const call of after) {
      const was = before.get(call.callId) ?? [];
      const sides = call.bySide.map((n, i) => n - (was[i] ?? 0)).sort((a, b) => a - b);
      echoed += sides.length === 2 ? sides[0] : 0;
      fromCaller += sides[sides.length - 1] ?? 0;
    }
    const [uacRun] = await Promise.all([uac.done, uas.done]);
    return {
      calls,
      held,
      rtpengineCpuShare,
      gatewayCpuMsPerCall: ((cpuSeconds(gw.pid) - gwCpu0) / Math.max(1, uacRun.successful)) * 1000,
      loss: fromCaller ? 1 - echoed / fromCaller : 1,
      transcoded,
      failed: uacRun.failed,
    };
  } finally {
    gw.stop();
    await rtpengine.stop();
    fs.rmSync(work, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const cores = os.cpus().length;
  console.log(`\nMedia bridge: rtpengine 10.5 (userspace), ${cores} cores, sipp plain RTP G.711 both legs, every call bridged`);
  const only = process.env.BENCH_MEDIA_ONLY; // 'phones' or 'browsers': one of the two halves
  for (const codec of only === 'browsers' ? [] : (['PCMA', 'PCMU'] as const)) {
    console.log(`\n  ${codec === 'PCMA' ? 'forwarded (A-law both legs)' : 'transcoded (A-law caller, µ-law callee: decode + encode each packet, both ways)'}`);
    console.log(`  ${'calls'.padStart(6)} ${'held'.padStart(6)} ${'rtpengine CPU'.padStart(14)} ${'per call'.padStart(10)} ${'loss'.padStart(8)} ${'transcoded'.padStart(11)} ${'gateway ms/call'.padStart(16)} ${'failed'.padStart(7)}`);
    for (const calls of LEVELS) {
      const r = await measureLevel(calls, codec);
      const perCall = (r.rtpengineCpuShare / Math.max(1, r.held)) * 100;
      console.log(
        `  ${String(r.calls).padStart(6)} ${String(r.held).padStart(6)} ${`${(r.rtpengineCpuShare * 100).toFixed(1)} %`.padStart(14)} ${`${perCall.toFixed(3)} %`.padStart(10)} ${`${(r.loss * 100).toFixed(2)} %`.padStart(8)} ${String(r.transcoded).padStart(11)} ${r.gatewayCpuMsPerCall.toFixed(2).padStart(16)} ${String(r.failed).padStart(7)}`,
      );
      if (r.loss > LOSS_LIMIT || r.held < r.calls) {
        console.log(`  stopped: more than ${LOSS_LIMIT * 100} % lost or calls not all held at ${calls}`);
        break;
      }
    }
  }
  console.log('\n  CPU as a share of one core over 2 s of steady media; loss = 1 − (packets echoed back ÷ packets from the caller), from rtpengine\'s counters.');

  console.log('\nBrowser-like leg (ICE + DTLS-SRTP, from a second rtpengine, signalled over SIP on WebSocket) ↔ plain RTP sipp callee echoing');
  for (const calleeCodec of only === 'phones' ? [] : (['PCMA', 'PCMU'] as const)) {
    console.log(`\n  ${calleeCodec === 'PCMA' ? 'forwarded (A-law both legs, SRTP ↔ RTP)' : 'transcoded (A-law browser, µ-law phone)'}`);
    console.log(`  ${'calls'.padStart(6)} ${'held'.padStart(6)} ${'rtpengine CPU'.padStart(14)} ${'per call'.padStart(10)} ${'loss'.padStart(8)} ${'transcoded'.padStart(11)}`);
    for (const calls of LEVELS) {
      const r = await measureBrowserLevel(calls, 'PCMA', calleeCodec);
      const perCall = (r.rtpengineCpuShare / Math.max(1, r.held)) * 100;
      console.log(
        `  ${String(r.calls).padStart(6)} ${String(r.held).padStart(6)} ${`${(r.rtpengineCpuShare * 100).toFixed(1)} %`.padStart(14)} ${`${perCall.toFixed(3)} %`.padStart(10)} ${`${(r.loss * 100).toFixed(2)} %`.padStart(8)} ${String(r.transcoded).padStart(11)}`,
      );
      if (r.loss > LOSS_LIMIT || r.held < r.calls) {
        console.log(`  stopped: more than ${LOSS_LIMIT * 100} % lost or calls not all held at ${calls}`);
        break;
      }
    }
  }
  console.log('\n  CPU of the rtpengine under test over 3 s (the browsers\' rtpengine runs on the same cores); loss = 1 − (packets back at the sources ÷ packets sent).');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
