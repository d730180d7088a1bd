#!/usr/bin/env bash
# `npm start`: install what is missing, build, and run Parley with embedded defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# A young generation of up to PARLEY_YOUNG_GENERATION_MB per semi-space (V8's default is 16):
# a message waits tens of milliseconds for its archive commit, and with the default most of
# them outlive two scavenges and are promoted — on PostgreSQL that cost the gateway a fifth of
# its CPU (`npm run bench -- xmpp`). It costs memory only under load.
exec node --max-semi-space-size="${PARLEY_YOUNG_GENERATION_MB:-64}" build/gateway/src/main.js
