/** sipp as a load generator for the benchmarks (`bench/sip`, `bench/nodes`). */
import { spawn, type ChildProcess } from 'node:child_process';

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
