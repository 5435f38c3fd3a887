#!/bin/sh
# PostgreSQL and MySQL through Jumpgate (jsh proxy db --tunnel) vs direct, pgbouncer
# and a chain of bare Node TCP relays with as many hops as our path, on loopback.
# Flags as in bench/db.ts (e.g. --seconds 20 --rounds 3 --format=json). Needs pgbench,
# mysqlslap and pgbouncer: when pgbouncer is missing, this installs Debian's package.
set -e
cd "$(dirname "$0")/.."
if ! command -v pgbouncer >/dev/null 2>&1 && [ ! -x /usr/sbin/pgbouncer ]; then
  echo "bench: installing pgbouncer (apt-get install pgbouncer)" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >&2
  # Debian starts its own pgbouncer service on 6432; the benchmark runs its own.
  (service pgbouncer stop || true) >/dev/null 2>&1
fi
if ! command -v pgbench >/dev/null 2>&1 || ! command -v mysqlslap >/dev/null 2>&1; then
  echo "bench: installing postgresql-client and mariadb-client (pgbench, mysqlslap)" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql-client mariadb-client >&2
fi
exec node --import tsx bench/db.ts "$@"
