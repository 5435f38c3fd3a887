#!/bin/sh
# HTTP apps through Jumpgate (jsh proxy app, and the browser path with an
# app-session cookie) vs the app directly, nginx as a reverse proxy and a minimal
# Node proxy, measured with wrk on loopback. Flags as in bench/app.ts (e.g.
# --seconds 10 --rounds 3 --format=json). Needs root; when wrk or nginx is
# missing, this installs Debian's package.
set -e
cd "$(dirname "$0")/.."
missing=""
command -v wrk >/dev/null 2>&1 || missing="$missing wrk"
[ -x /usr/sbin/nginx ] || command -v nginx >/dev/null 2>&1 || missing="$missing nginx"
if [ -n "$missing" ]; then
  echo "bench: installing$missing (apt-get install$missing)" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >&2
  # Debian may start its own nginx on port 80; the benchmark runs its own.
  case "$missing" in *nginx*) (service nginx stop || true) >/dev/null 2>&1 ;; esac
fi
exec node --import tsx bench/app.ts "$@"
