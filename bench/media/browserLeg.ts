/**
 * Bridged calls with a browser-like leg: ICE and DTLS-SRTP on one side, plain RTP on the other.
 *
 * Hundreds of browsers do not fit on one machine, so the "browsers" are a second rtpengine
 * that turns a plain RTP source into a WebRTC endpoint (ICE, DTLS-SRTP, rtcp-mux), signalled
 * over SIP on WebSocket as the web app is. The rtpengine under test then does for each call
 * what it does for a real browser: ICE with it, a DTLS handshake, SRTP both ways, and plain
 * RTP to a sipp callee that echoes every packet. Each call's source sends 20 ms G.711 packets
 * and counts what comes back.
 */
import dgram from 'node:dgram';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freeTcpUdpPort } from '../../server-common/test-support/ports.js';
import { NgClient } from '../../gateway/src/media/rtpengine/ngClient.js';
import { RtpengineProcess } from '../../gateway/test-support/rtpengine.js';
import { authedRequest, inDialog, register, SipClient, uid } from '../../gateway/test-support/sipClient.js';
import { SCENARIOS } from '../../gateway/test-support/sipp.js';
import { sipp } from '../sip/sippRunner.js';
import { BENCH_PASSWORD, cpuSeconds, pool, startBenchGateway } from '../support/benchEnv.js';

export interface BrowserLegResult {
  calls: number;
  held: number;
  /** rtpengine under test: CPU share of one core over the window. */
  rtpengineCpuShare: number;
  loss: number;
  transcoded: number;
}

interface Source {
  socket: dgram.Socket;
  port: number;
  sent: number;
  received: number;
  target?: number;
}

const PAYLOAD = { PCMU: 0, PCMA: 8 } as const;

/** The browsers' side: a plain RTP source for each call, made a WebRTC endpoint by a second rtpengine. */
async function source(): Promise<Source> {
  const socket = dgram.createSocket('udp4');
  const s: Source = { socket, port: 0, sent: 0, received: 0 };
  socket.on('message', () => s.received++);
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', () => r()));
  s.port = socket.address().port;
  return s;
}

function plainSdp(port: number, codec: 'PCMU' | 'PCMA'): string {
  const pt = PAYLOAD[codec];
  return ['v=0', 'o=- 1 1 IN IP4 127.0.0.1', 's=-', 'c=IN IP4 127.0.0.1', 't=0 0', `m=audio ${port} RTP/AVP ${pt}`, `a=rtpmap:${pt} ${codec}/8000`, 'a=ptime:20', 'a=sendrecv', ''].join('\r\n');
}

/**
 * `calls` browser-like calls at once to a sipp callee answering `calleeCodec`; the browsers
 * speak `browserCodec` (A-law both sides: forwarded; A-law to µ-law: transcoded).
 */
export async function measureBrowserLevel(calls: number, browserCodec: 'PCMA', calleeCodec: 'PCMA' | 'PCMU'): Promise<BrowserLegResult> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-media-browser-'));
  const bridge = new RtpengineProcess({ mediaPorts: Math.max(200, calls * 4 + 200), logLevel: 3 });
  const browsers = new RtpengineProcess({ mediaPorts: Math.max(200, calls * 4 + 200), portMin: 40_000, logLevel: 3 });
  await bridge.start();
  // The browsers' rtpengine takes its ports from another range than the bridge's.
  await browsers.start();
  const browserSide = new NgClient({ host: '127.0.0.1', port: browsers.ngPort });
  const gw = await startBenchGateway(10, {
    PARLEY_MEDIA_BRIDGE: bridge.url,
    PARLEY_MEDIA_BRIDGE_MAX_CALLS: String(calls * 2),
    PARLEY_SIP_RATE_PER_IP: '0',
  });
  const sources: Source[] = [];
  let timer: NodeJS.Timeout | undefined;
  let callee: ReturnType<typeof sipp> | undefined;
  let ws: SipClient | undefined;
  try {
    const [uasPort, regPort, uasMedia] = await Promise.all([1, 2, 3].map(() => freeTcpUdpPort()));
    fs.writeFileSync(path.join(work, 'callee.csv'), `SEQUENTIAL\nu0;[authentication username=u0 password=${BENCH_PASSWORD}];localhost;127.0.0.1:${uasPort}\n`);
    const reg = await sipp([`127.0.0.1:${gw.sipPort}`, '-sf', path.join(SCENARIOS, 'register.xml'), '-inf', 'callee.csv', '-p', String(regPort), '-m', '1'], work).done;
    if (reg.successful !== 1) throw new Error(`callee did not register:\n${reg.output.slice(-2000)}`);
    const uasScenario = path.join(work, 'uas.xml');
    const uas = fs.readFileSync(path.join(SCENARIOS, 'uas-answer.xml'), 'utf8');
    fs.writeFileSync(uasScenario, calleeCodec === 'PCMU' ? uas : uas.replace('RTP/AVP 0', 'RTP/AVP 8').replace('a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000'));
    callee = sipp(['-sf', uasScenario, '-p', String(uasPort), '-m', String(calls), '-rtp_echo', '-mp', String(uasMedia)], work);

    // The web app's signalling: SIP over WebSocket, signed in as u1.
    ws = await SipClient.openWebSocket(gw.httpPort, 'u1');
    if ((await register(ws, BENCH_PASSWORD)).status !== 200) throw new Error('u1 did not register over WebSocket');
    const dialogs: Array<{ ok: Awaited<ReturnType<SipClient['response']>>; fromTag: string }> = [];
    await pool(calls, 20, async () => {
      const s = await source();
      sources.push(s);
      const callId = uid('media-bench-');
      const fromTag = `b-${callId}`;
      // What a browser offers: ICE, DTLS-SRTP, rtcp-mux, in the one codec of this level.
      const offer = String(
        (await browserSide.request('offer', { 'call-id': callId, 'from-tag': fromTag, sdp: plainSdp(s.port, browserCodec), 'transport-protocol': 'UDP/TLS/RTP/SAVPF', ICE: 'force', 'rtcp-mux': ['require'], flags: ['generate-mid', 'SDES-off'] })).sdp,
      );
      const o = await authedRequest(ws!, { method: 'INVITE', uri: 'sip:u0@localhost', from: 'u1', fromTag, to: 'u0', callId, contact: ws!.contact, body: offer, password: BENCH_PASSWORD });
      const ok = await ws!.response(o.callId, 'INVITE', 200, 20_000);
      ws!.send(inDialog(ws!, ok, 'ACK', 2, fromTag));
      const toTag = /tag=([^;>]+)/.exec(ok.header('To') ?? '')?.[1] ?? '';
      const plain = String((await browserSide.request('answer', { 'call-id': callId, 'from-tag': fromTag, 'to-tag': toTag, sdp: ok.body, 'transport-protocol': 'RTP/AVP', ICE: 'remove', DTLS: 'off' })).sdp);
      s.target = Number(/m=audio (\d+)/.exec(plain)![1]);
      dialogs.push({ ok, fromTag });
    });

    // Every source sends a 20 ms packet each tick.
    const pt = PAYLOAD[browserCodec];
    let seq = 0;
    const payload = Buffer.alloc(160, 0xd5);
    timer = setInterval(() => {
      seq++;
      for (const s of sources) {
        if (!s.target) continue;
        const header = Buffer.alloc(12);
        header[0] = 0x80;
        header[1] = pt;
        header.writeUInt16BE(seq & 0xffff, 2);
        header.writeUInt32BE(seq * 160, 4);
        header.writeUInt32BE(s.port, 8);
        s.socket.send(Buffer.concat([header, payload]), s.target, '127.0.0.1');
        s.sent++;
      }
    }, 20);
    // ICE and DTLS settle, the echo starts.
    await new Promise((r) => setTimeout(r, 3000));
    const sent0 = sources.reduce((n, s) => n + s.sent, 0);
    const received0 = sources.reduce((n, s) => n + s.received, 0);
    const cpu0 = cpuSeconds(bridge.pid!);
    const t0 = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, 3000));
    const rtpengineCpuShare = (cpuSeconds(bridge.pid!) - cpu0) / (Number(process.hrtime.bigint() - t0) / 1e9);
    const sent = sources.reduce((n, s) => n + s.sent, 0) - sent0;
    const received = sources.reduce((n, s) => n + s.received, 0) - received0;
    const held = await bridge.sessions();
    const transcoded = await bridge.transcodedMedia();
    clearInterval(timer);
    for (const d of dialogs) ws.send(inDialog(ws, d.ok, 'BYE', 3, d.fromTag));
    await callee.done;
    return { calls, held, rtpengineCpuShare, loss: sent ? Math.max(0, 1 - received / sent) : 1, transcoded };
  } finally {
    clearInterval(timer);
    callee?.proc.kill('SIGINT');
    ws?.close();
    for (const s of sources) s.socket.close();
    browserSide.close();
    gw.stop();
    await Promise.all([bridge.stop(), browsers.stop()]);
    fs.rmSync(work, { recursive: true, force: true });
  }
}
