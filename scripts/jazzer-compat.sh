#!/usr/bin/env bash
# Makes Jazzer.js's prebuilt fuzzer addon load on systems older than the one it was built on
# (Debian bookworm: glibc 2.36, GCC 12; the addon wants glibc 2.38 and GCC 13's libstdc++).
# The addon uses three symbols from those versions: they are unversioned in a copy of the
# addon, provided by a small shim (fuzz/compat/jazzerCompat.c) that the addon now links, and
# the two version requirements are marked weak. Idempotent; does nothing where the addon loads.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh

addon=node_modules/@jazzer.js/fuzzer/prebuilds/fuzzer-linux-x64.node
[ -f "$addon" ] || exit 0
# Already adapted, or loads as it is (a newer system): nothing to do.
if grep -q libjazzer-compat.so "$addon" || ! ldd "$addon" 2>&1 | grep -v 'weak version' | grep -q "version .GLIBC\(XX\)\?_[0-9.]*' not found"; then
  exit 0
fi
apt_install patchelf gcc python3
dir=$(dirname "$addon")
gcc -shared -fPIC -O2 -o "$dir/libjazzer-compat.so" fuzz/compat/jazzerCompat.c
for symbol in __isoc23_strtol __isoc23_strtoul _ZSt21ios_base_library_initv; do
  patchelf --clear-symbol-version "$symbol" "$addon"
done
python3 fuzz/compat/weakenVersions.py "$addon" GLIBC_2.38 GLIBCXX_3.4.32
patchelf --add-needed libjazzer-compat.so "$addon"
patchelf --set-rpath '$ORIGIN' "$addon"
say "Jazzer.js fuzzer addon adapted to this system's glibc/libstdc++ (scripts/jazzer-compat.sh)"
