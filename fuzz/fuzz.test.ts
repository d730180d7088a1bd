/**
 * Every fuzz target replays its seeds and every input a fuzzing run ever caught it failing on
 * (fuzz/regressions/<target>/, kept by `npm run fuzz`), plus the RFC 4475 messages for the SIP
 * targets when ../shared is there: each must now pass. (The fuzzing itself, coverage-guided
 * and time-bounded, is `npm run fuzz`; `npm test` runs it for 30 s per target.)
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sharedPath } from '../gateway/test-support/shared.js';
import { TARGETS } from './runFuzzers.js';

type Target = { fuzz(data: Buffer): unknown; close?(): Promise<void> };

const ROOT = path.resolve(import.meta.dirname);
const loaded: Target[] = [];

afterAll(async () => {
  for (const t of loaded) await t.close?.();
});

function inputs(target: string): Array<[string, Buffer]> {
  const dirs = [path.join(ROOT, 'seeds', target), path.join(ROOT, 'regressions', target)];
  const torture = sharedPath('sip-torture', 'messages');
  if (torture && target.startsWith('sip')) dirs.push(torture);
  return dirs
    .filter((d) => fs.existsSync(d))
    .flatMap((d) => fs.readdirSync(d).map((f): [string, Buffer] => [path.join(path.basename(d), f), fs.readFileSync(path.join(d, f))]));
}

describe.each(TARGETS)('fuzz target %s', (name) => {
  it('passes on its seeds and on every input it was once caught failing on', async () => {
    const target = (await import(`./targets/${name}.fuzz.ts`)) as Target;
    loaded.push(target);
    const cases = inputs(name);
    expect(cases.length).toBeGreaterThan(0);
    for (const [file, data] of cases) {
      try {
        await target.fuzz(data);
      } catch (err) {
        throw new Error(`${name} fails on ${file}: ${(err as Error).message}`);
      }
    }
  }, 120_000);
});
