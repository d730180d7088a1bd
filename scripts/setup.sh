#!/usr/bin/env bash
# Installs what Parley needs and builds it. Idempotent: fast when everything is in place.
#   scripts/setup.sh            npm packages + build (enough to run Parley)
#   scripts/setup.sh --test     also the Debian packages the tests drive (chromium, sipp, redis, postgresql …)
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

. scripts/common.sh

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "Parley needs Node.js 20 or newer (found $(node -v 2>/dev/null || echo none))." >&2
  exit 1
fi

if [ "$want_test" = 1 ]; then
  apt_install chromium sip-tester redis-server postgresql iproute2 fonts-dejavu-core baresip-core linphone-cli coturn haproxy rtpengine-daemon
fi

# npm packages: reinstall when package-lock.json changed since the last install.
stamp=node_modules/.parley-installed
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  say "Installing npm packages"
  # mediasoup's own postinstall would download a prebuilt worker from GitHub; we build ours
  # below. PARLEY_MEDIASOUP_PREBUILT=1 lets mediasoup fetch its prebuilt worker instead.
  if [ "${PARLEY_MEDIASOUP_PREBUILT:-0}" = 1 ]; then
    npm ci --no-audit --no-fund
  else
    MEDIASOUP_WORKER_BIN="$(mediasoup_worker_cache_path)" npm ci --no-audit --no-fund
  fi
  touch "$stamp"
fi

if [ "${PARLEY_MEDIASOUP_PREBUILT:-0}" != 1 ]; then
  bash scripts/build-mediasoup-worker.sh
fi

if [ "$want_test" = 1 ]; then
  bash scripts/jazzer-compat.sh
fi

say "Building"
npm run --silent build
