#!/usr/bin/env bash
# Installs what Parley needs and builds it. Idempotent: fast when everything is in place.
#   scripts/setup.sh            npm packages + build (enough to run Parley)
#   scripts/setup.sh --test     also the Debian packages the tests drive (chromium, sipp, redis)
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "Need root to run: $*  (install these Debian packages by hand, then rerun)" >&2; exit 1
  fi
}

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "Parley needs Node.js 20 or newer (found $(node -v 2>/dev/null || echo none))." >&2
  exit 1
fi

if [ "$want_test" = 1 ]; then
  missing=()
  command -v chromium >/dev/null || missing+=(chromium)
  command -v sipp >/dev/null || missing+=(sip-tester)
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v ip >/dev/null || missing+=(iproute2)
  fc-list 2>/dev/null | grep -qi dejavu || missing+=(fonts-dejavu-core)
  if [ ${#missing[@]} -gt 0 ]; then
    say "Installing Debian packages: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  fi
fi

# npm packages: reinstall when package-lock.json changed since the last install.
stamp=node_modules/.parley-installed
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  say "Installing npm packages"
  npm ci --no-audit --no-fund
  touch "$stamp"
fi

say "Building"
npm run --silent build
