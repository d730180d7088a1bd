/**
 * A real rtpengine (Debian's rtpengine-daemon, userspace forwarding, no kernel module) on
 * loopback for tests: its ng control port on a free port, its media ports in a block above
 * the kernel's ephemeral range, its log kept for the test's failure message.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { freeTcpUdpPort } from '../../server-common/test-support/ports.js';
import { NgClient } from '../src/media/rtpengine/ngClient.js';

export function hasRtpengine(): boolean {
  return spawnSync('rtpengine', ['--version'], { stdio: 'ignore' }).status === 0;
}

export interface RtpengineOptions {
  /** Seconds without RTP after which rtpengine deletes a call by itself (its --timeout). */
  timeoutSeconds?: number;
  /** Media ports it may use (4 per bridged call); more than the default block takes 61000 up. */
  mediaPorts?: number;
  /** First media port, for a second rtpengine beside one using 61000 up. */
  portMin?: number;
  logLevel?: number;
}

const MEDIA_LOW = 61_000;
const MEDIA_BLOCK = 200;
const usedBlocks = new Set<number>();

export class RtpengineProcess {
  ngPort = 0;
  log = '';
  #child?: ChildProcess;
  #exited?: Promise<void>;
  #control?: NgClient;

  constructor(private readonly options: RtpengineOptions = {}) {}

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** The value for PARLEY_MEDIA_BRIDGE. */
  get url(): string {
    return `udp:127.0.0.1:${this.ngPort}`;
  }

  async start(): Promise<void> {
    this.ngPort = await freeTcpUdpPort();
    const ports = this.options.mediaPorts ?? MEDIA_BLOCK;
    let portMin = this.options.portMin ?? MEDIA_LOW;
    if (ports <= MEDIA_BLOCK && this.options.portMin === undefined) {
      let block: number;
      do block = Math.floor(Math.random() * Math.floor((65_000 - MEDIA_LOW) / MEDIA_BLOCK));
      while (usedBlocks.has(block));
      usedBlocks.add(block);
      portMin = MEDIA_LOW + block * MEDIA_BLOCK;
    }
    this.#child = spawn(
      'rtpengine',
      [
        '--config-file=none',
        '--foreground',
        '--log-stderr',
        '--table=-1', // userspace only: no kernel module
        '--interface=127.0.0.1',
        `--listen-ng=127.0.0.1:${this.ngPort}`,
        `--port-min=${portMin}`,
        `--port-max=${portMin + Math.max(ports, MEDIA_BLOCK) - 1}`,
        `--timeout=${this.options.timeoutSeconds ?? 60}`,
        '--delete-delay=0',
        `--log-level=${this.options.logLevel ?? 6}`,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    this.#child.stderr!.on('data', (chunk: Buffer) => {
      this.log = (this.log + chunk.toString()).slice(-200_000);
    });
    this.#exited = new Promise((resolve) => this.#child!.once('exit', () => resolve()));
    this.#control = new NgClient({ host: '127.0.0.1', port: this.ngPort, retryMs: 200, tries: 2 });
    for (let i = 0; ; i++) {
      if (this.#child.exitCode !== null) throw new Error(`rtpengine exited at start:\n${this.log}`);
      try {
        await this.#control.request('ping');
        return;
      } catch {
        if (i > 40) throw new Error(`rtpengine did not answer ping:\n${this.log}`);
      }
    }
  }

  /** Calls rtpengine holds now (its own count, from `statistics`). */
  async sessions(): Promise<number> {
    const reply = await this.#control!.request('statistics');
    const stats = reply.statistics as { currentstatistics?: { sessionsown?: number } } | undefined;
    return stats?.currentstatistics?.sessionsown ?? NaN;
  }

  /** Media streams rtpengine is transcoding now (its `statistics`). */
  async transcodedMedia(): Promise<number> {
    const reply = await this.#control!.request('statistics');
    const stats = reply.statistics as { currentstatistics?: { transcodedmedia?: number } } | undefined;
    return stats?.currentstatistics?.transcodedmedia ?? NaN;
  }

  /** rtpengine's view of one call (`query`), or undefined when it has none. */
  async query(callId: string): Promise<Record<string, unknown> | undefined> {
    try {
      return (await this.#control!.request('query', { 'call-id': callId })) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  }

  /** For every call rtpengine holds: the RTP and RTCP packets it has received from each side (by tag). */
  async packetsReceived(): Promise<Array<{ callId: string; bySide: number[] }>> {
    const list = (await this.#control!.request('list')).calls;
    const out: Array<{ callId: string; bySide: number[] }> = [];
    for (const callId of Array.isArray(list) ? list.map(String) : []) {
      const call = (await this.query(callId)) as { tags?: Record<string, { medias?: Array<{ streams?: Array<{ stats?: { packets?: number } }> }> }> } | undefined;
      const bySide = Object.values(call?.tags ?? {}).map((tag) =>
        (tag.medias ?? []).flatMap((m) => m.streams ?? []).reduce((sum, st) => sum + (st.stats?.packets ?? 0), 0),
      );
      out.push({ callId, bySide });
    }
    return out;
  }

  async stop(): Promise<void> {
    this.#control?.close();
    if (this.#child && this.#child.exitCode === null) this.#child.kill('SIGTERM');
    await this.#exited;
  }
}
