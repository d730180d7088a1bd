#!/usr/bin/env node
// The `parley` command. Runs the compiled CLI, compiling the server first if needed.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'build/gateway/src/cli/parley.js');
if (!fs.existsSync(cli)) {
  const r = spawnSync('npm', ['run', '--silent', 'build:server'], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const { runCli } = await import(pathToFileURL(cli).href);
const code = await runCli(process.argv.slice(2));
if (code >= 0) process.exit(code);
