#!/usr/bin/env bash
# `npm test`: installs everything the tests need (Debian and npm packages), builds, checks the
# types and the import rules between the parts (dependency-cruiser), then runs the
# unit/integration tests (Vitest) — the gateway's once more with every record on PostgreSQL —,
# the browser tests (Playwright + Debian Chromium) and a short fuzzing run (Jazzer.js), all
# inside a loopback-only network namespace.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
echo "==> Type checks"
npm run --silent typecheck
echo "==> Import rules (.dependency-cruiser.cjs)"
npm run --silent lint:deps
echo "==> Unit and integration tests"
bash scripts/isolated.sh npx vitest run "$@"
if [ $# -eq 0 ]; then
  echo "==> The gateway's integration tests again, records on PostgreSQL (DATABASE_URL)"
  # (The store suite and the *.postgres.test.ts files use PostgreSQL already; not run twice.)
  PARLEY_TEST_DATABASE=postgres bash scripts/isolated.sh npx vitest run gateway/src \
    --exclude '**/*.postgres.test.ts' --exclude 'gateway/src/storage/storage.test.ts'
fi
echo "==> Browser tests"
bash scripts/isolated.sh npx playwright test
echo "==> Fuzzing (30 s per target; npm run fuzz runs longer)"
npm run --silent build:fuzz
bash scripts/isolated.sh npx tsx fuzz/runFuzzers.ts --seconds "${PARLEY_FUZZ_SECONDS:-30}"
