# Helpers shared by Parley's shell scripts (sourced, not run).

say() { printf '\033[1m==> %s\033[0m\n' "$*"; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "Need root to run: $*  (install these Debian packages by hand, then rerun)" >&2; exit 1
  fi
}

# apt_install PACKAGE... — installs the Debian packages not yet installed.
apt_install() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "Installing Debian packages: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# The mediasoup version Parley pins (exactly) in package.json.
mediasoup_version() {
  node -p 'require("./package.json").dependencies.mediasoup'
}

# Where the worker built from Debian's libraries is cached: keyed by mediasoup version and
# by the build kit's content, outside node_modules (npm ci wipes it) and outside the clone
# (so fresh clones on this machine reuse it).
mediasoup_worker_cache_path() {
  local kit_hash
  kit_hash=$( (cd sfu/worker-build && find . -type f | LC_ALL=C sort | xargs sha256sum) \
    | sha256sum | cut -c1-12)
  local cache="${PARLEY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/parley}"
  echo "$cache/mediasoup-worker-$(mediasoup_version)-$kit_hash"
}
