#!/usr/bin/env bash
# Debian packages the tests (and, with "bench", the benchmark) need. Installs only what is missing.
set -euo pipefail
want=(nginx chromium)
[ "${1:-}" = "bench" ] && want+=(libnginx-mod-http-echo wrk aria2 curl time)
missing=()
for pkg in "${want[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ]; then
  echo "system-packages: need root to install: ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts nginx on port 80 after installing it; the tests and bench run their own.
if command -v systemctl >/dev/null 2>&1; then systemctl stop nginx >/dev/null 2>&1 || true; fi
nginx -s quit >/dev/null 2>&1 || true
