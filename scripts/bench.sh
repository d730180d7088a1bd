#!/usr/bin/env bash
# `npm run bench [-- sip|xmpp|sfu|embed|nodes|media|reference ...]`: performance figures (not tests). Needs the same
# packages as the tests, plus ffmpeg (it replays a VP8/Opus clip as RTP into the SFU).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/common.sh
bash scripts/setup.sh --test
apt_install ffmpeg python3
ulimit -n 65536 2>/dev/null || true
parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=(sip xmpp sfu embed nodes media reference)
for part in "${parts[@]}"; do
  case "$part" in
    sip) bash scripts/isolated.sh npx tsx bench/sip/sipBench.ts ;;
    xmpp) bash scripts/isolated.sh npx tsx bench/xmpp/xmppBench.ts ;;
    sfu) bash scripts/isolated.sh npx tsx bench/sfu/sfuBench.ts ;;
    embed) bash scripts/isolated.sh npx tsx bench/embed/embedBench.ts ;;
    nodes) bash scripts/isolated.sh npx tsx bench/nodes/nodesBench.ts ;;
    media) bash scripts/isolated.sh npx tsx bench/media/mediaBench.ts ;;
    reference)
      had_ejabberd=$(dpkg-query -W -f='${Status}' ejabberd 2>/dev/null | grep -c 'install ok installed' || true)
      apt_install kamailio kamailio-sqlite-modules ejabberd erlang-p1-pgsql
      # The package starts a system ejabberd on 5222/5280 (Parley's XMPP port); the bench runs its
      # own, so one it installed is stopped and not started at boot.
      [ "$had_ejabberd" = 0 ] && { as_root systemctl disable --now ejabberd 2>/dev/null || as_root service ejabberd stop 2>/dev/null || true; }
      bash scripts/isolated.sh npx tsx bench/reference/referenceBench.ts ;;
    *) echo "unknown benchmark '$part' (use sip, xmpp, sfu, embed, nodes, media or reference)" >&2; exit 2 ;;
  esac
done
