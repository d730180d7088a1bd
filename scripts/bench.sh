#!/usr/bin/env bash
# `npm run bench`: performance figures (not tests). Needs the same packages as the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
ulimit -n 65536 2>/dev/null || true
bash scripts/isolated.sh npx tsx bench/sip/sipBench.ts
bash scripts/isolated.sh npx tsx bench/xmpp/xmppBench.ts
