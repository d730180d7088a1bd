/** Runs Debian's sipp (package sip-tester) as a real, independent SIP peer. */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const SCENARIOS = path.resolve(import.meta.dirname, '../src/sip/interop/scenarios');

export interface SippResult {
  code: number | null;
  output: string;
  successful: number;
  failed: number;
}

export interface SippOptions {
  scenario: string;
  /** Gateway address; omitted for a UAS that only listens. */
  remote?: string;
  localPort: number;
  calls: number;
  rate?: number;
  /** CSV injection file contents (first line SEQUENTIAL/RANDOM). */
  csv?: string;
  extra?: string[];
  timeoutSeconds?: number;
}

export function hasSipp(): boolean {
  return fs.existsSync('/usr/bin/sipp');
}

export function runSipp(o: SippOptions): { done: Promise<SippResult>; kill: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-sipp-'));
  const args = [
    ...(o.remote ? [o.remote] : []),
    '-sf',
    path.join(SCENARIOS, o.scenario),
    '-i',
    '127.0.0.1',
    '-p',
    String(o.localPort),
    '-m',
    String(o.calls),
    '-r',
    String(o.rate ?? 10),
    '-timeout',
    `${o.timeoutSeconds ?? 30}s`,
    '-timeout_error',
    '-nostdin',
    '-trace_err',
    '-error_file',
    path.join(dir, 'errors.log'),
    ...(o.extra ?? []),
  ];
  if (o.csv) {
    fs.writeFileSync(path.join(dir, 'users.csv'), o.csv);
    args.push('-inf', path.join(dir, 'users.csv'));
  }
  const child = spawn('sipp', args, { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const done = new Promise<SippResult>((resolve) => {
    // 'close', not 'exit': the final statistics may still be in the pipe when the process exits.
    child.on('close', (code) => {
      const count = (label: string) => Number(new RegExp(`${label}\\s*\\|\\s*\\d+\\s*\\|\\s*(\\d+)`).exec(output)?.[1] ?? 0);
      let errors = '';
      try {
        errors = fs.readFileSync(path.join(dir, 'errors.log'), 'utf8');
      } catch {
        // no errors file: no errors
      }
      fs.rmSync(dir, { recursive: true, force: true });
      resolve({ code, output: output + errors, successful: count('Successful call'), failed: count('Failed call') });
    });
  });
  return { done, kill: () => child.kill('SIGKILL') };
}

/** Registers `user` (digest) with the contact 127.0.0.1:`contactPort`, as a sipp phone would. */
export function sippRegister(sipPort: number, user: string, password: string, contactPort: number, localPort: number): Promise<SippResult> {
  return runSipp({
    scenario: 'register.xml',
    remote: `127.0.0.1:${sipPort}`,
    localPort,
    calls: 1,
    csv: `SEQUENTIAL\n${user};[authentication username=${user} password=${password}];localhost;127.0.0.1:${contactPort}\n`,
  }).done;
}

/** `calls` digest-authenticated calls from `caller` to `callee`, each hung up by the caller after `extra`'s pause. */
export function sippCalls(o: { sipPort: number; localPort: number; caller: string; password: string; callee: string; calls: number; extra?: string[] }): Promise<SippResult> {
  return runSipp({
    scenario: 'uac-call.xml',
    remote: `127.0.0.1:${o.sipPort}`,
    localPort: o.localPort,
    calls: o.calls,
    rate: o.calls,
    csv: `SEQUENTIAL\n${o.caller};[authentication username=${o.caller} password=${o.password}];localhost;${o.callee}\n`,
    extra: o.extra ?? ['-d', '200'],
  }).done;
}
