#!/usr/bin/env bash
# What `npm run bench:orchestrator` needs beyond npm test: HAProxy (Debian), the TCP-proxy reference.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
if ! command -v haproxy >/dev/null; then
  if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "bench:orchestrator needs haproxy (Debian: apt-get install haproxy); cannot install it here" >&2
    exit 1
  fi
  echo "installing haproxy ..." >&2
  apt-get update -qq >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends haproxy >/dev/null
fi
