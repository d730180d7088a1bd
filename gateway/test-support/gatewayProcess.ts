/**
 * Runs a real Parley gateway as a child process (the built server, as `npm start` runs it),
 * with its own data directory and free loopback ports, and creates accounts through the CLI.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freeTcpPort, freeTcpUdpPort } from '../../server-common/test-support/ports.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

export interface GatewayProcessOptions {
  env?: Record<string, string>;
  dataDir?: string;
  httpPort?: number;
  sipPort?: number;
}

export class GatewayProcess {
  readonly dataDir: string;
  httpPort = 0;
  sipPort = 0;
  sipTlsPort = 0;
  xmppPort = 0;
  #child: ChildProcess | undefined;
  #output = '';
  readonly #env: Record<string, string>;

  constructor(private readonly options: GatewayProcessOptions = {}) {
    this.dataDir = options.dataDir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'parley-e2e-'));
    this.#env = options.env ?? {};
  }

  get url(): string {
    return `http://localhost:${this.httpPort}`;
  }

  /** The gateway's process id while it runs (benchmarks read its CPU time). */
  get pid(): number {
    return this.#child?.pid ?? 0;
  }

  get output(): string {
    return this.#output;
  }

  #baseEnv(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      PARLEY_DATA: this.dataDir,
      // Tests create many accounts; a cheaper (still salted) hash keeps that fast.
      PARLEY_PASSWORD_HASH_COST: '10',
      PARLEY_LOG_LEVEL: process.env.PARLEY_LOG_LEVEL ?? 'warn',
      // Conference media on loopback, on ports the system picks.
      PARLEY_SFU_LISTEN_IP: '127.0.0.1',
      PARLEY_SFU_RTC_PORT: '0',
      // No bridge unless a test brings its own rtpengine (never a system one it happens to find).
      PARLEY_MEDIA_BRIDGE: 'off',
      ...this.#env,
    };
  }

  async start(): Promise<void> {
    // A port checked free can still be taken before the gateway binds it (another test's server);
    // ports we picked ourselves are picked again.
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#startOnce();
      } catch (e) {
        const portClash = /EADDRINUSE/.test(String(e));
        if (!portClash || attempt >= 3 || this.options.httpPort || this.options.sipPort) throw e;
        this.httpPort = this.sipPort = this.sipTlsPort = this.xmppPort = 0;
        this.#output = '';
      }
    }
  }

  async #startOnce(): Promise<void> {
    this.httpPort = this.httpPort || this.options.httpPort || (await freeTcpPort());
    this.sipPort = this.sipPort || this.options.sipPort || (await freeTcpUdpPort());
    this.xmppPort = this.xmppPort || (await freeTcpPort());
    this.sipTlsPort = this.sipTlsPort || (await freeTcpPort());
    const child = spawn(process.execPath, [path.join(ROOT, 'build/gateway/src/main.js')], {
      cwd: ROOT,
      env: {
        ...this.#baseEnv(),
        PORT: String(this.httpPort),
        SIP_PORT: String(this.sipPort),
        SIP_TLS_PORT: String(this.sipTlsPort),
        XMPP_C2S_PORT: String(this.xmppPort),
        PARLEY_XMPP_HOST: '127.0.0.1',
        PARLEY_HTTP_HOST: '127.0.0.1',
        PARLEY_SIP_HOST: '127.0.0.1',
        // Behind a proxy the public origin is the proxy's (set through `env`).
        PARLEY_PUBLIC_URL: this.#env.PARLEY_PUBLIC_URL ?? `http://localhost:${this.httpPort}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.#child = child;
    child.stdout!.on('data', (d) => (this.#output += d));
    child.stderr!.on('data', (d) => (this.#output += d));
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`gateway exited (${child.exitCode}):\n${this.#output}`);
      try {
        const res = await fetch(`http://127.0.0.1:${this.httpPort}/healthz`);
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`gateway did not become healthy:\n${this.#output}`);
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.#child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill(signal);
    await exited;
  }

  /** One figure from /metrics (`parley_<name>`), NaN when absent. */
  async metric(name: string): Promise<number> {
    const text = await (await fetch(`${this.url}/metrics`)).text();
    const m = new RegExp(`^parley_${name} (\\d+)`, 'm').exec(text);
    return m ? Number(m[1]) : NaN;
  }

  /** `npx parley user add …`, as an operator would. */
  addUser(name: string, password: string, displayName?: string): void {
    const args = [path.join(ROOT, 'bin/parley.js'), 'user', 'add', name, '--password', password];
    if (displayName) args.push('--display-name', displayName);
    const r = spawnSync(process.execPath, args, { cwd: ROOT, env: this.#baseEnv(), encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`user add ${name} failed: ${r.stderr}${r.stdout}`);
  }
}
