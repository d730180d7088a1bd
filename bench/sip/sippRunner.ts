/** sipp as a load generator for the benchmarks (`bench/sip`, `bench/nodes`). */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface SippRun {
  successful: number;
  failed: number;
  /** sipp's cumulative call rate (successful calls per second over the whole run). */
  rate: number;
  output: string;
}

export function sipp(args: string[], cwd: string): { proc: ChildProcess; done: Promise<SippRun> } {
  const proc = spawn('sipp', [...args, '-i', '127.0.0.1', '-nostdin', '-timeout', '180s'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const done = new Promise<SippRun>((resolve) =>
    proc.on('close', () => {
      const num = (label: string) => Number(new RegExp(`${label}\\s*\\|\\s*\\d+\\s*\\|\\s*(\\d+)`).exec(out)?.[1] ?? 0);
      const rate = Number(/Call Rate\s*\|[^|]*\|\s*([\d.]+) cps/.exec(out)?.[1] ?? NaN);
      resolve({ successful: num('Successful call'), failed: num('Failed call'), rate, output: out });
    }),
  );
  return { proc, done };
}

/** The SIP load every SIP benchmark runs, against any registrar/proxy at `remote` (host:port). */
export interface SipLoad {
  /** Writes the users' injection file: u0…u(n-1) with `password`, contacts at 127.0.0.1:`uasPort`. */
  prepare(users: number, password: string): void;
  /** One round of digest REGISTERs for every user (UDP), `cpu` read around it. */
  registers(cpu: () => number): Promise<{ run: SippRun; cpuUsEach: number }>;
  /** Registers u0 at the UAS, then runs `n` proxied calls from u1 (INVITE + 407 … BYE, `inFlight` at once). */
  calls(n: number, inFlight: number, cpu: () => number): Promise<{ run: SippRun; cpuUsEach: number }>;
  stop(): void;
}

export function sipLoad(remote: string, work: string, ports: { register: number; uac: number; uas: number }, scenarios: string): SipLoad {
  let uas: ReturnType<typeof sipp> | undefined;
  let users = 0;
  let password = '';
  const register = (file: string, n: number) =>
    sipp([remote, '-sf', path.join(scenarios, 'register.xml'), '-inf', file, '-p', String(ports.register), '-m', String(n), '-r', '50000', '-l', '300'], work).done;
  return {
    prepare(n, pw) {
      users = n;
      password = pw;
      const rows = Array.from({ length: n }, (_, i) => `u${i};[authentication username=u${i} password=${pw}];localhost;127.0.0.1:${ports.uas}`);
      fs.writeFileSync(path.join(work, 'users.csv'), ['SEQUENTIAL', ...rows].join('\n') + '\n');
    },
    async registers(cpu) {
      const cpu0 = cpu();
      const run = await register('users.csv', users);
      return { run, cpuUsEach: ((cpu() - cpu0) / Math.max(1, run.successful)) * 1e6 };
    },
    async calls(n, inFlight, cpu) {
      fs.writeFileSync(path.join(work, 'caller.csv'), `SEQUENTIAL\nu1;[authentication username=u1 password=${password}];localhost;u0\n`);
      fs.writeFileSync(path.join(work, 'callee.csv'), `SEQUENTIAL\nu0;[authentication username=u0 password=${password}];localhost;127.0.0.1:${ports.uas}\n`);
      await register('callee.csv', 1);
      uas ??= sipp(['-sf', path.join(scenarios, 'uas-answer.xml'), '-p', String(ports.uas), '-m', '1000000'], work);
      const callArgs = (count: number, rate: string, limit: number) => [
        remote, '-sf', path.join(scenarios, 'uac-call.xml'), '-inf', 'caller.csv', '-p', String(ports.uac), '-m', String(count), '-r', rate, '-l', String(limit), '-d', '0',
      ];
      await sipp(callArgs(1000, '300', 100), work).done; // warm-up
      const cpu0 = cpu();
      const run = await sipp(callArgs(n, '10000', inFlight), work).done;
      return { run, cpuUsEach: ((cpu() - cpu0) / Math.max(1, run.successful)) * 1e6 };
    },
    stop() {
      uas?.proc.kill('SIGINT');
    },
  };
}
