/**
 * The node's mediasoup workers: one process per core, each with a WebRtcServer that carries
 * every WebRTC transport of that worker over one UDP and one TCP port. Tracks each worker's
 * load (streams forwarded, CPU) and replaces a worker that dies.
 */
import type { types } from 'mediasoup';
import type { Logger } from '../../../server-common/logger.js';
import { TypedEmitter } from '../../../server-common/typedEmitter.js';
import { loadMediasoup } from './loadMediasoup.js';

export interface WorkerPoolOptions {
  workers: number;
  listenIp: string;
  announcedAddress: string;
  /** Worker i listens on rtcPort + i (UDP and TCP); 0 lets the system choose. */
  rtcPort: number;
  logger: Logger;
}

export type WorkerPoolEvents = {
  /** A worker process died; every router on it is gone. A replacement is started. */
  workerdied: [MediaWorker];
};

export class MediaWorker {
  /** Streams this worker forwards (consumers) and receives (producers), kept by the rooms. */
  consumers = 0;
  producers = 0;
  /** CPU share (0..1) over the last sampling interval. */
  cpu = 0;
  #lastCpuMicros = 0;
  #lastSampleAt = 0;

  constructor(
    readonly index: number,
    readonly worker: types.Worker,
    readonly webRtcServer: types.WebRtcServer,
  ) {}

  get closed(): boolean {
    return this.worker.closed;
  }

  async sampleCpu(): Promise<void> {
    const usage = await this.worker.getResourceUsage();
    // ru_utime and ru_stime are in milliseconds.
    const micros = (usage.ru_utime + usage.ru_stime) * 1000;
    const now = performance.now() * 1000;
    if (this.#lastSampleAt > 0 && now > this.#lastSampleAt) {
      this.cpu = Math.min(1, Math.max(0, (micros - this.#lastCpuMicros) / (now - this.#lastSampleAt)));
    }
    this.#lastCpuMicros = micros;
    this.#lastSampleAt = now;
  }
}

export class WorkerPool extends TypedEmitter<WorkerPoolEvents> {
  readonly #options: WorkerPoolOptions;
  readonly #workers: MediaWorker[] = [];
  #closed = false;

  constructor(options: WorkerPoolOptions) {
    super();
    this.#options = options;
  }

  async start(): Promise<void> {
    for (let i = 0; i < this.#options.workers; i++) this.#workers[i] = await this.#startWorker(i);
  }

  get workers(): readonly MediaWorker[] {
    return this.#workers;
  }

  /** The live worker forwarding the fewest streams. */
  leastLoaded(exclude?: MediaWorker): MediaWorker {
    let best: MediaWorker | undefined;
    for (const w of this.#workers) {
      if (w.closed || w === exclude) continue;
      if (!best || w.consumers + w.producers < best.consumers + best.producers) best = w;
    }
    if (!best) throw new Error('no live mediasoup worker');
    return best;
  }

  async sampleCpu(): Promise<void> {
    await Promise.all(this.#workers.filter((w) => !w.closed).map((w) => w.sampleCpu().catch(() => {})));
  }

  totals(): { consumers: number; producers: number; cpu: number } {
    let consumers = 0;
    let producers = 0;
    let cpu = 0;
    for (const w of this.#workers) {
      consumers += w.consumers;
      producers += w.producers;
      cpu += w.cpu;
    }
    return { consumers, producers, cpu: this.#workers.length ? cpu / this.#workers.length : 0 };
  }

  close(): void {
    this.#closed = true;
    for (const w of this.#workers) w.worker.close();
  }

  async #startWorker(index: number): Promise<MediaWorker> {
    const { listenIp, announcedAddress, rtcPort, logger } = this.#options;
    const mediasoup = await loadMediasoup();
    const worker = await mediasoup.createWorker({ logLevel: 'warn' });
    const port = rtcPort === 0 ? 0 : rtcPort + index;
    const announced = announcedAddress === listenIp ? undefined : announcedAddress;
    const webRtcServer = await worker.createWebRtcServer({
      listenInfos: [
        { protocol: 'udp', ip: listenIp, announcedAddress: announced, port },
        { protocol: 'tcp', ip: listenIp, announcedAddress: announced, port },
      ],
    });
    const media = new MediaWorker(index, worker, webRtcServer);
    worker.on('died', (error) => {
      logger.error({ worker: index, pid: worker.pid, err: error.message }, 'mediasoup worker died');
      this.emit('workerdied', media);
      if (!this.#closed) this.#replace(index);
    });
    logger.info({ worker: index, pid: worker.pid, port }, 'mediasoup worker started');
    return media;
  }

  #replace(index: number, attempt = 0): void {
    // Back off a little so a worker that dies at start does not spin.
    setTimeout(
      () => {
        if (this.#closed) return;
        this.#startWorker(index).then(
          (w) => {
            if (this.#closed) w.worker.close();
            else this.#workers[index] = w;
          },
          (err: Error) => {
            this.#options.logger.error({ worker: index, err: err.message }, 'could not restart mediasoup worker');
            this.#replace(index, attempt + 1);
          },
        );
      },
      Math.min(10_000, 500 * 2 ** attempt),
    );
  }
}
