/** The operator CLI (`npx parley user …`), run as a separate process like an operator would. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = path.resolve(import.meta.dirname, '../../..');
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'parley-cli-'));

function parley(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin/parley.js'), ...args], {
    cwd: ROOT,
    env: { ...process.env, PARLEY_DATA: dataDir, PARLEY_PASSWORD_HASH_COST: '10' },
    encoding: 'utf8',
    input,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

afterAll(() => fs.rmSync(dataDir, { recursive: true, force: true }));

describe('parley user …', () => {
  it('adds, lists, changes the password of and deletes accounts', () => {
    expect(parley(['user', 'add', 'alice', '--password', 'alice-pass-1', '--display-name', 'Alice Liddell'])).toMatchObject({ code: 0 });
    expect(parley(['user', 'add', 'bob'], 'bob-pass-11\n')).toMatchObject({ code: 0 }); // password from stdin
    const list = parley(['user', 'list']);
    expect(list.out).toMatch(/^alice\tAlice Liddell\t/m);
    expect(list.out).toMatch(/^bob\tbob\t/m);
    expect(parley(['user', 'passwd', 'bob', '--password', 'bob-pass-22'])).toMatchObject({ code: 0 });
    expect(parley(['user', 'del', 'bob'])).toMatchObject({ code: 0 });
    expect(parley(['user', 'list']).out).not.toMatch(/^bob/m);
    // The database never holds a password in the clear.
    const db = fs.readFileSync(path.join(dataDir, 'parley.db'));
    expect(db.includes(Buffer.from('alice-pass-1'))).toBe(false);
  });

  it('explains what went wrong', () => {
    expect(parley(['user', 'add', 'alice', '--password', 'another-pass'])).toMatchObject({ code: 1, err: expect.stringMatching(/already exists/) });
    expect(parley(['user', 'add', 'Bad Name', '--password', 'whatever-1'])).toMatchObject({ code: 1, err: expect.stringMatching(/not a valid username/) });
    expect(parley(['user', 'add', 'carol', '--password', 'short'])).toMatchObject({ code: 1, err: expect.stringMatching(/at least 8/) });
    expect(parley(['user', 'del', 'nobody'])).toMatchObject({ code: 1, err: expect.stringMatching(/No account named/) });
    expect(parley(['frobnicate'])).toMatchObject({ code: 2, err: expect.stringMatching(/Usage/) });
  });
});
