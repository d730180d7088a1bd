#!/usr/bin/env bash
# `npm run soak [-- --minutes N]`: everything at once against one gateway for a bounded time
# (default 10 minutes; bench/soak/soak.ts), on loopback inside the tests' network namespace.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --test
ulimit -n 65536 2>/dev/null || true
exec bash scripts/isolated.sh npx tsx bench/soak/soak.ts "$@"
