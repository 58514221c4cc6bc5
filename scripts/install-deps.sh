#!/bin/sh
# Installs the Debian 12 packages the build, the tests and the benchmarks need,
# only those that are missing. Runs apt-get only when something is missing.
set -eu
pkgs="build-essential cmake pkg-config libsqlite3-dev libmicrohttpd-dev libjansson-dev
libsodium-dev libcmocka-dev libcurl4-openssl-dev libssl-dev libpq-dev libhiredis-dev
postgresql redis-server wrk clang-format"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "missing packages:$missing (run as root, or install them with apt-get)" >&2
    exit 1
fi
echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
