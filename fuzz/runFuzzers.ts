/**
 * `npm run fuzz [-- --seconds N] [target …]`: runs each fuzz target under Jazzer.js
 * (coverage-guided, libFuzzer) for a bounded time, seeded with fuzz/seeds/<target>, the
 * regressions kept in fuzz/regressions/<target>, and — for the SIP targets — the RFC 4475
 * torture messages when ../shared is there. What it learns is kept in .cache/fuzz-corpus/
 * (per machine, reused by the next run). A crash, timeout or memory blow-up stops the run: its
 * input is copied into fuzz/regressions/<target>/, where fuzz/fuzz.test.ts replays it in every
 * test run from then on. Prints runs and executions per second for each target.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { sharedPath } from '../gateway/test-support/shared.js';

const ROOT = path.resolve(import.meta.dirname, '..');
export const TARGETS = ['sipParser', 'sipStack', 'sdp', 'xmppStream', 'xmppWebSocket', 'sfuSignalling'] as const;

/**
 * Jazzer's bug detectors each target leaves off, and why: the SFU target talks to its node
 * over a real loopback WebSocket, which the SSRF detector would report as a finding.
 */
const DISABLED_DETECTORS: Partial<Record<(typeof TARGETS)[number], string[]>> = { sfuSignalling: ['ssrf'] };

/** Targets that never await: Jazzer runs them in its faster synchronous mode. */
const SYNCHRONOUS = new Set<string>(['sipParser', 'sdp']);

/**
 * libFuzzer's last line of a run, "#<runs> DONE cov: …". What it prints after it (the
 * recommended dictionary, "Done N runs", the final stats) is sometimes lost when Jazzer exits,
 * and a target that started servers may not exit at all, so this line is what counts.
 */
const DONE_LINE = /#(\d+)\s+DONE\s/;

/** Where each target's extra seeds come from beyond its own folder. */
function extraSeeds(target: string): string[] {
  const torture = sharedPath('sip-torture', 'messages');
  return torture && (target === 'sipParser' || target === 'sipStack') ? [torture] : [];
}

interface Outcome {
  target: string;
  runs: number;
  seconds: number;
  corpus: number;
  crash?: string;
}

function run(target: string, seconds: number): Promise<Outcome> {
  const work = path.join(ROOT, '.cache/fuzz-corpus', target);
  const artifacts = path.join(ROOT, '.cache/fuzz-artifacts', target) + path.sep;
  const seeds = path.join(ROOT, 'fuzz/seeds', target);
  const regressions = path.join(ROOT, 'fuzz/regressions', target);
  for (const dir of [work, artifacts, seeds, regressions]) fs.mkdirSync(dir, { recursive: true });
  const args = [
    path.join(ROOT, `build/fuzz/targets/${target}.fuzz.js`),
    work,
    seeds,
    regressions,
    ...extraSeeds(target),
    '--includes', path.join(ROOT, 'build') + path.sep,
    '--excludes', 'node_modules',
    '--timeout', '10000',
    ...(SYNCHRONOUS.has(target) ? ['--sync'] : []),
    ...(DISABLED_DETECTORS[target as (typeof TARGETS)[number]] ?? []).flatMap((d) => ['--disableBugDetectors', d]),
    '--',
    `-max_total_time=${seconds}`,
    '-rss_limit_mb=2048',
    `-artifact_prefix=${artifacts}`,
    '-print_final_stats=1',
  ];
  return new Promise((resolve) => {
    const child = spawn(path.join(ROOT, 'node_modules/.bin/jazzer'), args, { cwd: ROOT, env: { ...process.env, PARLEY_LOG_LEVEL: 'silent' } });
    let output = '';
    let finished = false;
    const keep = (d: Buffer) => {
      output += d;
      if (output.length > 1 << 20) output = output.slice(-(1 << 19));
      // Targets that start servers keep the process alive after libFuzzer is done: end it.
      if (!finished && DONE_LINE.test(output)) {
        finished = true;
        setTimeout(() => child.kill('SIGKILL'), 3000).unref();
      }
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    // Bounded whatever happens: a target that has not finished well after its time is stuck.
    let stuck = false;
    const deadline = setTimeout(() => {
      stuck = true;
      child.kill('SIGKILL');
    }, (seconds + 120) * 1000);
    child.on('close', (exitCode) => {
      clearTimeout(deadline);
      if (stuck && !finished) {
        resolve({ target, runs: 0, seconds, corpus: fs.readdirSync(work).length, crash: `stuck: no end ${seconds + 120} s after it started; last output:\n${output.slice(-1500)}` });
        return;
      }
      const code = finished && exitCode === null ? 0 : exitCode;
      const runs = Number(DONE_LINE.exec(output)?.[1] ?? 0);
      const took = seconds;
      const corpus = fs.readdirSync(work).length;
      if (code === 0 && runs > 0) return resolve({ target, runs, seconds: took, corpus });
      if (code === 0) return resolve({ target, runs, seconds: took, corpus, crash: `no runs reported; Jazzer said:\n${output.slice(-1500)}` });
      // Keep what crashed as a regression input, named after the failure.
      const artifact = /Test unit written to (\S+)/.exec(output)?.[1];
      let kept = '';
      if (artifact && fs.existsSync(artifact)) {
        kept = path.join(regressions, path.basename(artifact));
        fs.copyFileSync(artifact, kept);
      }
      const why = output.split('\n').filter((l) => /Error|==\d+==|timeout|out-of-memory|Uncaught/i.test(l)).slice(0, 12).join('\n');
      resolve({ target, runs, seconds: took, corpus, crash: `exit ${code}${kept ? `; input kept as ${path.relative(ROOT, kept)}` : ''}\n${why}` });
    });
  });
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const at = argv.indexOf('--seconds');
  const seconds = at >= 0 ? Number(argv[at + 1]) : 300;
  if (!Number.isFinite(seconds) || seconds < 1) throw new Error('--seconds needs a number of seconds');
  const named = argv.filter((a, i) => !a.startsWith('--') && argv[i - 1] !== '--seconds');
  const unknown = named.filter((t) => !(TARGETS as readonly string[]).includes(t));
  if (unknown.length) throw new Error(`unknown fuzz target(s) ${unknown.join(', ')}; there are ${TARGETS.join(', ')}`);
  const targets = named.length ? named : [...TARGETS];
  let failed = false;
  console.log(`Fuzzing ${targets.join(', ')} for ${seconds} s each (Jazzer.js)`);
  for (const target of targets) {
    const o = await run(target, seconds);
    const rate = o.seconds > 0 ? Math.round(o.runs / o.seconds) : o.runs;
    console.log(`  ${target.padEnd(14)} ${String(o.runs).padStart(9)} runs  ${String(rate).padStart(7)}/s  corpus ${o.corpus}${o.crash ? '  FAILED' : ''}`);
    if (o.crash) {
      failed = true;
      console.log(o.crash.replace(/^/gm, '      '));
    }
  }
  if (failed) process.exit(1);
}

if (import.meta.filename === process.argv[1]) {
  main().catch((err: Error) => {
    console.error(err.message);
    process.exit(2);
  });
}
