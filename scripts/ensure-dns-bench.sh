#!/usr/bin/env bash
# What `npm run bench:dns` needs beyond npm test: BIND 9 (the Brokel prototype's DNS server) and
# dnsperf (DNS-OARC's load generator), both from Debian.
set -euo pipefail
missing=()
command -v named >/dev/null || missing+=(bind9)
command -v dnsperf >/dev/null || missing+=(dnsperf)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "bench:dns needs ${missing[*]} (Debian: apt-get install ${missing[*]}); cannot install them here" >&2
    exit 1
  fi
  echo "installing ${missing[*]} ..." >&2
  apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
