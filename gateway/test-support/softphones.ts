/**
 * Real softphones from Debian for interop tests, each as its own process with its own
 * throwaway configuration: baresip (`baresip-core`, controlled over its ctrl_tcp socket) and
 * linphonec (`linphone-cli`, driven on stdin), plus coturn (`coturn`) as a STUN-only server
 * on loopback for their ICE. Audio comes from a generated tone file, so calls carry real RTP.
 *
 * What browsers need from a phone (WebRTC media): ICE, DTLS-SRTP, rtcp-mux, AVPF — set here.
 * baresip gathers ICE candidates only on a real interface, not lo (`mediaInterface`).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freeTcpPort, freeTcpUdpPort } from '../../server-common/test-support/ports.js';

export const hasBaresip = () => spawnSync('which', ['baresip']).status === 0;
export const hasLinphonec = () => spawnSync('which', ['linphonec']).status === 0;
export const hasCoturn = () => spawnSync('which', ['turnserver']).status === 0;

/**
 * A network interface with an IPv4 address other than loopback, which baresip needs (on lo
 * alone it cannot register: "Protocol not supported"). In the tests' loopback-only network
 * namespace there is none, so one is made there (root in the namespace may); on a host
 * that has one, that is used. Returns its name, or undefined when none can be had.
 */
export function ensurePhoneInterface(): string | undefined {
  for (const [name, addresses] of Object.entries(os.networkInterfaces())) {
    if (addresses?.some((a) => a.family === 'IPv4' && !a.internal)) return name;
  }
  // A veth pair whose both ends stay in this namespace: an address and a default route for
  // the phones to find, and still no way out of the namespace.
  const name = 'parley-ph0';
  for (const args of [
    ['link', 'add', name, 'type', 'veth', 'peer', 'name', 'parley-ph1'],
    ['addr', 'add', '10.99.0.1/24', 'dev', name],
    ['link', 'set', name, 'up'],
    ['link', 'set', 'parley-ph1', 'up'],
    ['route', 'add', 'default', 'dev', name],
  ]) {
    if (spawnSync('ip', args).status !== 0) return undefined;
  }
  return name;
}

/**
 * A 440 Hz tone (16-bit PCM WAV) of `seconds`: what the phones "say". 48 kHz stereo by default;
 * baresip's file source wants the codec's own rate, so 8 kHz mono for a G.711-only phone.
 */
export function writeTone(file: string, seconds = 30, rate = 48_000, channels = 2): void {
  const samples = rate * seconds;
  const frame = 2 * channels;
  const data = Buffer.alloc(samples * frame);
  for (let i = 0; i < samples; i++) {
    const v = Math.round(8000 * Math.sin((2 * Math.PI * 440 * i) / rate));
    for (let c = 0; c < channels; c++) data.writeInt16LE(v, i * frame + 2 * c);
  }
  const header = Buffer.alloc(44);
  header.write('RIFF', 0);
  header.writeUInt32LE(36 + data.length, 4);
  header.write('WAVEfmt ', 8);
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(channels, 22);
  header.writeUInt32LE(rate, 24);
  header.writeUInt32LE(rate * frame, 28);
  header.writeUInt16LE(frame, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36);
  header.writeUInt32LE(data.length, 40);
  fs.writeFileSync(file, Buffer.concat([header, data]));
}

/** A child process whose output tests can wait on. */
abstract class PhoneProcess {
  protected child: ChildProcess | undefined;
  protected text = '';
  readonly dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-phone-'));

  get output(): string {
    return this.text;
  }

  /** Resolves with the first match of `pattern` in the output (from `from` on), or rejects after `timeoutMs`. */
  async waitFor(pattern: RegExp, timeoutMs = 15_000, from = 0): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = this.logText().slice(from).match(pattern);
      if (m) return m;
      if (Date.now() > deadline) throw new Error(`${this.constructor.name}: no ${pattern} within ${timeoutMs} ms; output:\n${this.logText().slice(-3000)}`);
      if (this.child?.exitCode != null) throw new Error(`${this.constructor.name} exited (${this.child.exitCode}):\n${this.logText().slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Where the process reports what it does (its output; linphonec writes a log file). */
  logText(): string {
    return this.text;
  }

  protected spawn(command: string, args: string[], env: NodeJS.ProcessEnv = {}): ChildProcess {
    const child = spawn(command, args, { cwd: this.dir, env: { ...process.env, HOME: this.dir, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d) => (this.text += d));
    child.stderr!.on('data', (d) => (this.text += d));
    this.child = child;
    return child;
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface PhoneOptions {
  user: string;
  password: string;
  domain?: string;
  /** The gateway's SIP port on 127.0.0.1 (UDP). */
  sipPort: number;
  /** stun:host:port for ICE. */
  stunServer?: string;
}

/**
 * baresip 1.0, the plain account line an operator would write: with a STUN server, WebRTC
 * media (ICE, DTLS-SRTP); without, a plain-RTP phone (`g711Only`: no opus either).
 */
export class Baresip extends PhoneProcess {
  controlPort = 0;

  constructor(
    private readonly o: PhoneOptions & {
      mediaInterface?: string;
      g711Only?: boolean;
      /** SIP over TLS to this port of 127.0.0.1, trusting this CA file, with SDES-SRTP media. */
      tls?: { port: number; caFile: string };
      /** Seconds between REGISTERs (baresip's regint; the gateway's minimum must allow it). */
      registerSeconds?: number;
    },
  ) {
    super();
  }

  async start(): Promise<void> {
    const domain = this.o.domain ?? 'localhost';
    this.controlPort = await freeTcpPort();
    const sipPort = await freeTcpUdpPort();
    if (this.o.g711Only) writeTone(path.join(this.dir, 'tone.wav'), 30, 8000, 1);
    else writeTone(path.join(this.dir, 'tone.wav'));
    const media = this.o.stunServer ? `;medianat=ice;mediaenc=dtls_srtp;stunserver="${this.o.stunServer}"` : this.o.tls ? ';mediaenc=srtp-mand' : '';
    const aor = this.o.tls ? `<sip:${this.o.user}@${domain};transport=tls>` : `<sip:${this.o.user}@${domain}>`;
    const outbound = this.o.tls ? `sip:127.0.0.1:${this.o.tls.port};transport=tls` : `sip:127.0.0.1:${this.o.sipPort}`;
    fs.writeFileSync(path.join(this.dir, 'accounts'), `${aor};auth_pass=${this.o.password};outbound="${outbound}"${media};answermode=auto${this.o.registerSeconds ? `;regint=${this.o.registerSeconds}` : ''}\n`);
    // Media modules before account.so: an account's medianat/mediaenc must already exist.
    fs.writeFileSync(
      path.join(this.dir, 'config'),
      [
        'module_path /usr/lib/baresip/modules',
        `sip_listen 127.0.0.1:${sipPort}`,
        ...(this.o.tls ? [`sip_cafile ${this.o.tls.caFile}`] : []),
        ...(this.o.mediaInterface ? [`net_interface ${this.o.mediaInterface}`] : []),
        'rtcp_mux yes',
        ...[...(this.o.g711Only ? [] : ['opus']), 'g711', 'aufile', 'ice', 'stun', 'dtls_srtp', 'srtp', 'menu', 'contact', 'ctrl_tcp', 'account'].map((m) => `module ${m}.so`),
        `ctrl_tcp_listen 127.0.0.1:${this.controlPort}`,
        `audio_source aufile,${path.join(this.dir, 'tone.wav')}`,
        `audio_player aufile,${path.join(this.dir, 'heard.wav')}`,
        '',
      ].join('\n'),
    );
    // baresip's stdout is block-buffered when it is not a terminal: line-buffer it.
    this.spawn('stdbuf', ['-oL', '-eL', 'baresip', '-f', this.dir]);
    await this.waitFor(/baresip is ready/);
  }

  /** The registration's outcome: the 200 line, or the error baresip reports. */
  registration(timeoutMs = 15_000): Promise<RegExpMatchArray> {
    return this.waitFor(/\{0\/(?:UDP|TLS)\/v4\} 200 OK|reg: .*: (Register: .*|.*failed.*)/, timeoutMs);
  }

  /** Sends a ctrl_tcp command (netstring-framed JSON). */
  async command(command: string, params = ''): Promise<void> {
    const body = JSON.stringify({ command, params, token: String(Date.now()) });
    await new Promise<void>((resolve, reject) => {
      const s = net.connect(this.controlPort, '127.0.0.1', () => s.end(`${Buffer.byteLength(body)}:${body},`, () => resolve()));
      s.on('error', reject);
    });
  }
}

/** linphonec 5.1 (liblinphone): ICE, DTLS-SRTP, rtcp-mux, AVPF; auto-answers; audio from a file. */
export class Linphonec extends PhoneProcess {
  readonly #log = path.join(this.dir, 'linphone.log');

  /**
   * `provisioningUri`: no account of its own — liblinphone imports it from that remote
   * provisioning URL at start (`[misc] config-uri`), as Linphone does from a QR code.
   */
  constructor(private readonly o: PhoneOptions & { provisioningUri?: string }) {
    super();
  }

  /** The configuration file as linphonec keeps it (after a remote provisioning, what it imported). */
  configText(): string {
    return fs.readFileSync(path.join(this.dir, 'linphonerc'), 'utf8');
  }

  override logText(): string {
    try {
      return fs.readFileSync(this.#log, 'latin1');
    } catch {
      return '';
    }
  }

  async start(): Promise<void> {
    const domain = this.o.domain ?? 'localhost';
    const sipPort = await freeTcpUdpPort();
    writeTone(path.join(this.dir, 'tone.wav'));
    fs.mkdirSync(path.join(this.dir, '.local/share/linphone'), { recursive: true });
    const ice = this.o.stunServer ? ['[net]', 'firewall_policy=ice', `stun_server=${this.o.stunServer.replace(/^stun:/, '')}`] : [];
    if (this.o.provisioningUri) {
      fs.writeFileSync(
        path.join(this.dir, 'linphonerc'),
        ['[misc]', `config-uri=${this.o.provisioningUri}`, '[sip]', `sip_port=${sipPort}`, 'sip_tcp_port=-1', '[sound]', 'echocancellation=0', ''].join('\n'),
      );
      this.spawn('linphonec', ['-c', path.join(this.dir, 'linphonerc'), '-d', '6', '-l', this.#log]);
      return;
    }
    fs.writeFileSync(
      path.join(this.dir, 'linphonerc'),
      [
        '[sip]',
        `sip_port=${sipPort}`,
        'sip_tcp_port=-1',
        'default_proxy=0',
        ...(this.o.stunServer ? ['media_encryption=dtls', 'media_encryption_mandatory=1'] : []),
        ...ice,
        '[rtp]',
        'rtcp_mux=1',
        'avpf=1',
        '[auth_info_0]',
        `username=${this.o.user}`,
        `passwd=${this.o.password}`,
        `realm=${domain}`,
        `domain=${domain}`,
        '[proxy_0]',
        `reg_proxy=<sip:127.0.0.1:${this.o.sipPort};transport=udp>`,
        // The gateway as outbound proxy for every request, not only REGISTER.
        `reg_route=<sip:127.0.0.1:${this.o.sipPort};transport=udp;lr>`,
        `reg_identity=<sip:${this.o.user}@${domain}>`,
        'reg_expires=600',
        'reg_sendregister=1',
        'publish=0',
        'avpf=1',
        '[sound]',
        'echocancellation=0',
        '',
      ].join('\n'),
    );
    this.spawn('linphonec', ['-a', '-c', path.join(this.dir, 'linphonerc'), '-d', '6', '-l', this.#log]);
    await this.waitFor(/linphonec>|Ready/i, 15_000).catch(() => undefined);
    this.command('soundcard use files');
    this.command(`play ${path.join(this.dir, 'tone.wav')}`);
  }

  registration(timeoutMs = 15_000): Promise<RegExpMatchArray> {
    return this.waitFor(/moving from state \[LinphoneRegistrationProgress\] to \[(LinphoneRegistration(?:Ok|Failed))\]/, timeoutMs);
  }

  command(line: string): void {
    this.child?.stdin?.write(`${line}\n`);
  }
}

/** coturn as a STUN-only server on 127.0.0.1 (what the phones' ICE asks for its addresses). */
export class StunServer extends PhoneProcess {
  port = 0;

  get url(): string {
    return `stun:127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.port = await freeTcpUdpPort();
    this.spawn('turnserver', [
      '--listening-ip=127.0.0.1',
      `--listening-port=${this.port}`,
      '--stun-only',
      '--no-cli',
      '-n',
      '--no-tls',
      '--no-dtls',
      `--userdb=${path.join(this.dir, 'turndb')}`,
      '--log-file=stdout',
      '--simple-log',
    ]);
    await this.waitFor(/IO method|listener opened|Total General servers/i, 10_000);
  }
}

/**
 * coturn as a TURN server on 127.0.0.1 with the TURN REST API (`use-auth-secret`): the gateway
 * hands browsers credentials derived from the same secret. Loopback peers are allowed, as the
 * test's browsers and media are all on loopback.
 */
export class TurnServer extends PhoneProcess {
  port = 0;

  constructor(readonly secret = 'turn-rest-secret-for-tests') {
    super();
  }

  get url(): string {
    return `turn:127.0.0.1:${this.port}?transport=udp`;
  }

  async start(): Promise<void> {
    this.port = await freeTcpUdpPort();
    const relayLow = 49_152 + Math.floor(Math.random() * 100) * 50;
    this.spawn('turnserver', [
      '--listening-ip=127.0.0.1',
      '--relay-ip=127.0.0.1',
      `--listening-port=${this.port}`,
      `--min-port=${relayLow}`,
      `--max-port=${relayLow + 49}`,
      '--use-auth-secret',
      `--static-auth-secret=${this.secret}`,
      '--realm=localhost',
      '--allow-loopback-peers',
      '--no-cli',
      '-n',
      '--no-tls',
      '--no-dtls',
      '--fingerprint',
      `--userdb=${path.join(this.dir, 'turndb')}`,
      '--log-file=stdout',
      '--simple-log',
      '--verbose',
    ]);
    await this.waitFor(/IO method|listener opened|Total General servers/i, 10_000);
  }
}
