/**
 * The import rules (.dependency-cruiser.cjs) catch what they promise: each forbidden import,
 * planted in a small throwaway tree laid out like Parley's, fails dependency-cruiser with the
 * rule's name, and the imports the architecture allows pass. (`npm test` runs the same rules
 * on the real tree.)
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '..');
const run = promisify(execFile);

/** file → its imports */
const TREE: Record<string, string[]> = {
  'contracts/sfu/signalling.ts': [],
  'contracts/bad.ts': ['../server-common/shared.js'],
  'contracts/usesNode.ts': ['node:fs'],
  'server-common/shared.ts': ['../contracts/sfu/signalling.js'],
  'server-common/bad.ts': ['../gateway/src/conferences/service.js'],
  'sfu/src/index.ts': ['./rooms/room.js'],
  'sfu/src/config.ts': [],
  'sfu/src/rooms/room.ts': ['../../../server-common/shared.js'],
  'sfu/src/registry/index.ts': [],
  'sfu/src/bad.ts': ['../../gateway/src/conferences/service.js'],
  'gateway/src/gateway.ts': ['../../sfu/src/index.js', '../../sfu/src/registry/index.js', './conferences/service.js'],
  'gateway/src/config.ts': ['../../sfu/src/config.js'],
  'gateway/src/conferences/service.ts': ['../../../sfu/src/registry/index.js', '../../../contracts/sfu/signalling.js'],
  'gateway/src/reachesIntoSfu.ts': ['../../sfu/src/rooms/room.js'],
  'gateway/src/buildsItsOwnNode.ts': ['../../sfu/src/index.js'],
  'gateway/src/usesTestSupport.ts': ['../test-support/harness.js'],
  'gateway/src/loopA.ts': ['./loopB.js'],
  'gateway/src/loopB.ts': ['./loopA.js'],
  'gateway/test-support/harness.ts': [],
  'client/src/ok.ts': ['../../contracts/sfu/signalling.js'],
  'client/src/reachesServer.ts': ['../../server-common/shared.js'],
  'client/src/usesNode.ts': ['node:path'],
  'client/widget/widget.ts': ['../src/ok.js'],
};

interface Violation {
  from: string;
  to: string;
  rule: { name: string };
}

let dir: string;
let violations: Violation[];
let errOutput: string;
let exitCode: number;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-import-rules-'));
  for (const [file, imports] of Object.entries(TREE)) {
    fs.mkdirSync(path.join(dir, path.dirname(file)), { recursive: true });
    const body = imports.map((spec, i) => `import * as m${i} from '${spec}';\nexport const use${i} = m${i};\n`).join('');
    fs.writeFileSync(path.join(dir, file), body || 'export const nothing = 0;\n');
  }
  fs.writeFileSync(path.join(dir, 'tsconfig.json'), fs.readFileSync(path.join(ROOT, 'tsconfig.base.json')));
  const depcruise = path.join(ROOT, 'node_modules/.bin/depcruise');
  const args = ['--config', path.join(ROOT, '.dependency-cruiser.cjs'), 'contracts', 'server-common', 'sfu', 'gateway', 'client'];
  const json = await run(depcruise, [...args, '--output-type', 'json'], { cwd: dir, maxBuffer: 32 << 20 }).catch((e: { stdout: string }) => e);
  violations = (JSON.parse(json.stdout) as { summary: { violations: Violation[] } }).summary.violations;
  const err = await run(depcruise, [...args, '--output-type', 'err'], { cwd: dir }).then(
    (r) => ({ ...r, code: 0 }),
    (e: { stdout: string; code: number }) => e,
  );
  errOutput = err.stdout;
  exitCode = err.code;
}, 60_000);

afterAll(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

const broken = (rule: string) =>
  violations
    .filter((v) => v.rule.name === rule)
    .map((v) => `${v.from} → ${v.to}`)
    .sort();

describe('import rules', () => {
  it('fail the run and name the rule that was broken', () => {
    expect(exitCode).not.toBe(0);
    expect(errOutput).toMatch(/error sfu-independent-of-gateway: sfu\/src\/bad\.ts → gateway\/src\/conferences\/service\.ts/);
  });

  it('keep the SFU independent of the gateway', () => {
    expect(broken('sfu-independent-of-gateway')).toEqual(['sfu/src/bad.ts → gateway/src/conferences/service.ts']);
  });

  it('let the gateway use only the SFU’s public face, and build the node only at the composition root', () => {
    expect(broken('gateway-uses-sfu-public-face')).toEqual(['gateway/src/reachesIntoSfu.ts → sfu/src/rooms/room.ts']);
    expect(broken('sfu-node-wired-at-composition-root')).toEqual(['gateway/src/buildsItsOwnNode.ts → sfu/src/index.ts']);
  });

  it('give the client the contracts and nothing of the servers, nor Node built-ins', () => {
    expect(broken('client-imports-only-contracts')).toEqual(['client/src/reachesServer.ts → server-common/shared.ts']);
    expect(broken('client-runs-in-browsers')).toEqual(['client/src/usesNode.ts → path']);
    expect(broken('widget-stays-small')).toEqual(['client/widget/widget.ts → client/src/ok.ts']);
  });

  it('keep contracts and server-common free of the parts that use them', () => {
    expect(broken('contracts-stand-alone')).toEqual(['contracts/bad.ts → server-common/shared.ts']);
    expect(broken('contracts-run-in-browsers')).toEqual(['contracts/usesNode.ts → fs']);
    expect(broken('server-common-is-shared')).toEqual(['server-common/bad.ts → gateway/src/conferences/service.ts']);
  });

  it('keep test code out of shipped code, and loops out of everything', () => {
    expect(broken('no-test-code-in-production')).toEqual(['gateway/src/usesTestSupport.ts → gateway/test-support/harness.ts']);
    expect(broken('no-circular').length).toBeGreaterThan(0);
    expect(violations.filter((v) => v.rule.name === 'no-circular').every((v) => /loop[AB]\.ts$/.test(v.from))).toBe(true);
  });

  it('allow what the architecture allows', () => {
    const allowed = ['gateway/src/gateway.ts', 'gateway/src/config.ts', 'gateway/src/conferences/service.ts', 'client/src/ok.ts', 'sfu/src/index.ts', 'server-common/shared.ts'];
    expect(violations.filter((v) => allowed.includes(v.from))).toEqual([]);
  });
});
