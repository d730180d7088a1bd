#!/usr/bin/env bash
# `npm run fuzz [-- --seconds N] [target …]`: coverage-guided fuzzing with Jazzer.js, 300 s per
# target by default (fuzz/runFuzzers.ts), inside the loopback-only network namespace.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
npm run --silent build:fuzz
bash scripts/isolated.sh npx tsx fuzz/runFuzzers.ts "$@"
