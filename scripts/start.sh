#!/usr/bin/env bash
# `npm start`: install what is missing, build, and run Parley with embedded defaults.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node build/gateway/src/main.js
