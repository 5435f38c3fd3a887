#!/bin/sh
# Certificate issuance vs raw Ed25519 signing; flags as in bench/certs.ts (e.g. --duration 10).
exec npx tsx "$(dirname "$0")/certs.ts" "$@"
