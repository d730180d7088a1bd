#!/usr/bin/env bash
# Runs a command in a fresh network namespace where only loopback exists, so every test
# socket — SIP, WebRTC ICE candidates, Redis — stays on 127.0.0.1/::1. Falls back to the
# host network (with a warning) where namespaces are not allowed.
set -euo pipefail
if [ "${PARLEY_NO_NETNS:-}" != 1 ] && unshare -n true 2>/dev/null; then
  PARLEY_ISOLATED=1 exec unshare -n bash -c 'ip link set lo up && exec "$@"' isolated "$@"
fi
echo "warning: cannot create a network namespace; running on the host network" >&2
exec "$@"
