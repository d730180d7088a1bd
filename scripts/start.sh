#!/usr/bin/env bash
# `npm start`: install what is missing, build, and run Parley with embedded defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# PARLEY_YOUNG_GENERATION_MB: V8's semi-space size (Node's default, 16, when unset). 64 buys
# about a fifth less CPU per XMPP message and costs 80–120 MB of memory (README).
young=()
[ -n "${PARLEY_YOUNG_GENERATION_MB:-}" ] && young=(--max-semi-space-size="$PARLEY_YOUNG_GENERATION_MB")
exec node "${young[@]}" build/gateway/src/main.js
