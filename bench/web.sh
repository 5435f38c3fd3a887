#!/bin/sh
# The web UI: time from sign-in to the first shell prompt in the web terminal
# (median of N runs, in Debian's Chromium) and the gzipped size of the first
# page's JavaScript. Flags as in bench/web.ts (--runs N, --json). Needs root;
# when /usr/bin/chromium is missing, this installs Debian's chromium.
set -e
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ]; then
  echo "bench: installing Debian's chromium (apt-get install chromium)" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >&2
fi
[ -f web/dist/index.html ] || npm run build -w web >&2
exec node --import tsx bench/web.ts "$@"
