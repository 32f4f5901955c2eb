#!/usr/bin/env bash
# Set up everything fsguard's tests need on a fresh Debian 12, as root. Idempotent.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
if [ "$(id -u)" != 0 ]; then echo "setup: run as root" >&2; exit 2; fi
export DEBIAN_FRONTEND=noninteractive
pkgs=$(grep -v '^\s*#' .ci/debian-packages.txt | tr -s ' \n' ' ')
missing=""
for p in $pkgs; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"; done
if [ -n "$missing" ]; then
    apt-get update -qq
    # shellcheck disable=SC2086
    apt-get install -y -qq --no-install-recommends $missing
fi
# fail2ban's Debian service must not run on a test machine: tests use private servers.
systemctl disable --now fail2ban >/dev/null 2>&1 || true
# The virtualenv sees Debian's dist-packages (fail2ban, psycopg2, netaddr, requests): the same
# libraries the code finds inside FreeSWITCH's embedded system python3.
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; assert sys.version_info >= (3, 11)'; then
    rm -rf .venv
    /usr/bin/python3 -m venv --system-site-packages .venv
fi
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test]'
# PostgreSQL for the FusionPBX tests: the Debian cluster, started (no systemd needed).
ver=$(ls /usr/lib/postgresql | sort -n | tail -1)
if ! pg_lsclusters -h 2>/dev/null | grep -q "^$ver main"; then pg_createcluster "$ver" main >/dev/null; fi
pg_ctlcluster "$ver" main start 2>/dev/null || pg_ctlcluster "$ver" main status >/dev/null
echo "setup: done"
