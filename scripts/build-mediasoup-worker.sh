#!/usr/bin/env bash
# Builds mediasoup's worker from the npm package's own worker/ sources, linked against
# Debian's libraries (see sfu/worker-build/README.md), into the cache path, and points
# .cache/mediasoup-worker at it. Skips the build when the cached worker exists.
#   scripts/build-mediasoup-worker.sh [path/to/mediasoup-package]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

package_dir="${1:-node_modules/mediasoup}"
out=$(mediasoup_worker_cache_path)

link_worker() {
  mkdir -p .cache
  ln -sfn "$out" .cache/mediasoup-worker
}

if [ -x "$out" ]; then
  link_worker
  exit 0
fi

if [ ! -f "$package_dir/worker/meson.build" ]; then
  echo "No mediasoup worker sources in $package_dir (run npm ci first)." >&2
  exit 1
fi

apt_install g++ pkg-config ninja-build libssl-dev libuv1-dev libsrtp2-dev libusrsctp-dev \
  libabsl-dev flatbuffers-compiler libflatbuffers-dev nlohmann-json3-dev

# mediasoup needs meson >= 1.1; bookworm has 1.0.1, bookworm-backports has 1.7.
meson_ok() {
  command -v meson >/dev/null &&
    [ "$(printf '%s\n1.1.0\n' "$(meson --version)" | sort -V | head -1)" = 1.1.0 ]
}
if ! meson_ok; then
  codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
  if [ -n "$codename" ] && ! apt-cache policy meson | grep -q "$codename-backports"; then
    say "Adding Debian's $codename-backports to apt (for meson >= 1.1)"
    echo "deb http://deb.debian.org/debian $codename-backports main" |
      as_root tee "/etc/apt/sources.list.d/$codename-backports.list" >/dev/null
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    -t "$codename-backports" meson
  meson_ok || { echo "meson >= 1.1 is needed to build mediasoup's worker." >&2; exit 1; }
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/parley-mediasoup-build.XXXXXX")
trap 'rm -rf "$work"' EXIT
cp -r "$package_dir/worker" "$work/worker"
rm -rf "$work/worker/out" "$work/worker/subprojects/packagecache"

# Each local subproject goes where mediasoup's wrap file says its sources would be.
for kit in sfu/worker-build/subprojects/*/; do
  name=$(basename "$kit")
  wrap="$work/worker/subprojects/$name.wrap"
  dir=$(sed -n 's/^directory *= *//p' "$wrap")
  [ -n "$dir" ] || { echo "mediasoup has no $name.wrap with a directory; update sfu/worker-build" >&2; exit 1; }
  rm -rf "$work/worker/subprojects/$dir"
  cp -r "$kit" "$work/worker/subprojects/$dir"
  cp sfu/worker-build/subprojects/empty.c "$work/worker/subprojects/$dir/"
done

say "Building mediasoup-worker $(mediasoup_version) from source with Debian's libraries (5–10 minutes on 2 cores, once; then cached)"
(
  cd "$work/worker"
  meson setup --wrap-mode=nodownload --buildtype release -Db_ndebug=true \
    -Dms_disable_liburing=true build >"$work/setup.log" 2>&1 ||
    { cat "$work/setup.log" >&2; exit 1; }
  meson compile -C build flatbuffers-generator mediasoup-worker
)
mkdir -p "$(dirname "$out")"
install -m 755 "$work/worker/build/mediasoup-worker" "$out.tmp.$$"
mv -f "$out.tmp.$$" "$out"
link_worker
say "mediasoup-worker built: $out"
