#!/usr/bin/env bash
# `npm run bench`: performance figures (not tests). Needs the same packages as the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
bash scripts/isolated.sh npx tsx bench/sip/sipBench.ts
