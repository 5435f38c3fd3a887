#!/bin/sh
# SSH latency, throughput and CPU through Jumpgate vs OpenSSH ProxyJump, on loopback.
# Flags as in bench/ssh.ts (e.g. --size 256M --rounds 3). Needs root and OpenSSH:
# when ssh or sshd is missing, this installs Debian's openssh-client/openssh-server.
set -e
cd "$(dirname "$0")/.."
if ! command -v ssh >/dev/null 2>&1 || [ ! -x /usr/sbin/sshd ]; then
  echo "bench: installing OpenSSH (apt-get install openssh-client openssh-server)" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openssh-client openssh-server >&2
fi
exec node --import tsx bench/ssh.ts "$@"
