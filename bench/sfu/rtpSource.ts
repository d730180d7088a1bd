/**
 * Media for the SFU benchmark without a browser: a short VP8 + Opus clip encoded once by
 * ffmpeg (cached), replayed in real time as plain RTP streams (`-c copy`, so replaying costs
 * almost nothing), and a sink that receives forwarded RTP without reading it (the kernel drops
 * what overflows its buffer, costing the machine nearly nothing).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import type { types } from 'mediasoup';
import { ROOT } from '../support/benchEnv.js';

export const VIDEO = { width: 640, height: 360, fps: 30, kbps: 800 } as const;
const AUDIO_KBPS = 48;
const VIDEO_PT = 101;
const AUDIO_PT = 100;

export interface RtpStream {
  kind: 'audio' | 'video';
  ssrc: number;
  /** Where the stream's RTP and RTCP are sent (the producer's plain transport). */
  port: number;
  rtcpPort: number;
}

export function rtpParameters(stream: Pick<RtpStream, 'kind' | 'ssrc'>): types.RtpParameters {
  const codec: types.RtpCodecParameters =
    stream.kind === 'video'
      ? { mimeType: 'video/VP8', payloadType: VIDEO_PT, clockRate: 90000 }
      : { mimeType: 'audio/opus', payloadType: AUDIO_PT, clockRate: 48000, channels: 2 };
  return { codecs: [codec], encodings: [{ ssrc: stream.ssrc }] };
}

export function requireFfmpeg(): void {
  if (spawnSync('ffmpeg', ['-version']).status !== 0) throw new Error('ffmpeg is missing: scripts/bench.sh installs it (apt install ffmpeg)');
}

/** A 20 s VP8 640x360 + Opus clip, made once and kept in .cache/. */
export function benchClip(): string {
  const file = path.join(ROOT, '.cache', `bench-clip-${VIDEO.width}x${VIDEO.height}-${VIDEO.kbps}k.webm`);
  if (fs.existsSync(file)) return file;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp.webm`;
  const r = spawnSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'lavfi', '-i', `testsrc2=size=${VIDEO.width}x${VIDEO.height}:rate=${VIDEO.fps}`,
    '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', '20',
    '-c:v', 'libvpx', '-b:v', `${VIDEO.kbps}k`, '-deadline', 'realtime', '-cpu-used', '8', '-g', '60',
    '-c:a', 'libopus', '-b:a', `${AUDIO_KBPS}k`, '-ac', '2',
    tmp,
  ]);
  if (r.status !== 0) throw new Error(`ffmpeg could not make the benchmark clip: ${r.stderr}`);
  fs.renameSync(tmp, file);
  return file;
}

/** Replays the clip, looping, as one RTP stream per entry (same content, own SSRC and destination). */
export class RtpSender {
  readonly #child: ChildProcess;

  constructor(streams: RtpStream[]) {
    const args = ['-hide_banner', '-loglevel', 'error', '-re', '-stream_loop', '-1', '-i', benchClip()];
    for (const s of streams) {
      args.push(
        '-map', s.kind === 'video' ? '0:v:0' : '0:a:0',
        '-c', 'copy',
        '-f', 'rtp', '-ssrc', String(s.ssrc), '-payload_type', String(s.kind === 'video' ? VIDEO_PT : AUDIO_PT),
        `rtp://127.0.0.1:${s.port}?rtcpport=${s.rtcpPort}&pkt_size=1200`,
      );
    }
    this.#child = spawn('ffmpeg', args, { stdio: ['ignore', 'ignore', 'inherit'] });
  }

  get pid(): number {
    return this.#child.pid!;
  }

  stop(): void {
    this.#child.kill('SIGKILL');
  }
}

/** A bound UDP port nobody reads: forwarded RTP goes somewhere real, and costs no CPU to receive. */
export class RtpSink {
  readonly #child: ChildProcess;
  readonly port: Promise<number>;

  constructor() {
    const script = [
      'import socket, sys, time',
      's = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)',
      "s.bind(('127.0.0.1', 0))",
      'print(s.getsockname()[1], flush=True)',
      'sys.stdin.read()',
    ].join('\n');
    // The sink lives as long as its stdin is open: it cannot outlive the benchmark.
    this.#child = spawn('python3', ['-c', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.port = new Promise((resolve, reject) => {
      readline.createInterface({ input: this.#child.stdout! }).once('line', (line) => resolve(Number(line)));
      this.#child.once('error', reject);
    });
  }

  stop(): void {
    this.#child.kill('SIGKILL');
  }
}
