/** A standalone SFU node as a child process (build/sfu/src/main.js), for multi-node tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freeTcpPort } from '../../server-common/test-support/ports.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export interface SfuNodeProcessOptions {
  nodeId: string;
  redisUrl: string;
  secret: string;
  env?: Record<string, string>;
}

export class SfuNodeProcess {
  port = 0;
  #child: ChildProcess | undefined;
  #output = '';

  constructor(readonly options: SfuNodeProcessOptions) {}

  get url(): string {
    return `ws://127.0.0.1:${this.port}/sfu`;
  }

  get output(): string {
    return this.#output;
  }

  async start(): Promise<void> {
    this.port = this.port || (await freeTcpPort());
    const child = spawn(process.execPath, [path.join(ROOT, 'build/sfu/src/main.js')], {
      cwd: ROOT,
      env: {
        ...process.env,
        PARLEY_SFU_NODE_ID: this.options.nodeId,
        PARLEY_SFU_PORT: String(this.port),
        PARLEY_SFU_HTTP_HOST: '127.0.0.1',
        PARLEY_SFU_LISTEN_IP: '127.0.0.1',
        PARLEY_SFU_RTC_PORT: '0',
        PARLEY_SFU_WORKERS: '1',
        PARLEY_SFU_PUBLIC_URL: `ws://127.0.0.1:${this.port}/sfu`,
        REDIS_URL: this.options.redisUrl,
        PARLEY_SFU_SECRET: this.options.secret,
        PARLEY_LOG_LEVEL: process.env.PARLEY_LOG_LEVEL ?? 'warn',
        ...this.options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    const ready = new Promise<void>((resolve, reject) => {
      const onData = (d: Buffer) => {
        this.#output += d;
        if (this.#output.includes('ready at')) resolve();
      };
      child.stdout!.on('data', onData);
      child.stderr!.on('data', (d: Buffer) => (this.#output += d));
      child.once('exit', (code) => reject(new Error(`SFU node ${this.options.nodeId} exited (${code}):\n${this.#output}`)));
    });
    const timeout = new Promise<never>((_, reject) =>
      setTimeout(() => reject(new Error(`SFU node ${this.options.nodeId} did not start:\n${this.#output}`)), 20_000).unref(),
    );
    await Promise.race([ready, timeout]);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await exited;
  }
}
