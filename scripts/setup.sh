#!/usr/bin/env bash
# One-time set-up for a fresh Debian 12 + Node 20 machine; cheap when everything is already there.
# Installs npm packages (npm ci) when node_modules is missing or stale, and the Debian packages the
# broker templates and tests need when their binaries (or Debian's python3 paho-mqtt) are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "brokel setup: installing npm packages (npm ci)" >&2
  # npm ci insists on lock entries for every platform's optional package (Biome ships one per OS);
  # registries that lack some of them make it refuse, so fall back to npm install from the same lock,
  # with --no-save so that a fresh clone stays clean (the lock file is never rewritten).
  if ! npm ci --no-audit --no-fund; then
    echo "brokel setup: npm ci refused the lock file; running npm install instead" >&2
    npm install --no-audit --no-fund --no-save
  fi
fi

export PATH="$PATH:/usr/sbin:/sbin"
need=()
command -v mosquitto >/dev/null 2>&1 || need+=(mosquitto)
command -v mosquitto_sub >/dev/null 2>&1 || need+=(mosquitto-clients)
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || need+=(rabbitmq-server)
command -v dig >/dev/null 2>&1 || need+=(dnsutils)
# The dashboard's browser test drives Debian's chromium through playwright-core (an npm devDependency).
[ -x /usr/bin/chromium ] || need+=(chromium)
# The second MQTT client implementation of the interoperability tests (test/helpers/paho-client.py).
/usr/bin/python3 -c 'import paho.mqtt' >/dev/null 2>&1 || need+=(python3-paho-mqtt)

if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "brokel setup: missing Debian packages: ${need[*]}." >&2
    echo "  Install them as root: apt-get update && apt-get install -y ${need[*]}" >&2
    exit 1
  fi
  echo "brokel setup: installing Debian packages: ${need[*]}" >&2
  # policy-rc.d on these machines keeps apt from starting the system services; we run our own replicas.
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"; } >&2; then
    echo "brokel setup: 'apt-get install ${need[*]}' failed (output above). Without them no broker replica can start." >&2
    exit 1
  fi
fi

# The compiled build an orchestrator replica runs (scripts/build.sh), when missing or older than a source.
if [ ! -f out/.stamp ] || [ tsconfig.json -nt out/.stamp ] || [ tsconfig.build.json -nt out/.stamp ] ||
  [ -n "$(find common orchestrator cli -name '*.ts' -newer out/.stamp -print -quit)" ]; then
  echo "brokel setup: compiling the sources into out/ (scripts/build.sh)" >&2
  bash scripts/build.sh
fi
# The RabbitMQ template's golden database (templates/rabbitmq/golden.ts): one RabbitMQ boot, once per
# machine and version, after which every RabbitMQ replica boots 3–6 s sooner. Not fatal when it fails.
if [ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]; then
  node --import tsx scripts/bake-rabbitmq.ts
fi
