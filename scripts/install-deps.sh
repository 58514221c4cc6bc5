#!/bin/sh
# Installs the Debian 12 packages that one purpose needs, only those that
# are missing; apt-get runs only when something is missing.
#   install-deps.sh build   compilers, CMake and the libraries risinggen links
#   install-deps.sh test    build, plus cmocka, the PostgreSQL and Redis
#                           servers that `make test` starts privately,
#                           pgBackRest for the server profile's backups,
#                           clang with libFuzzer for the fuzz targets, and
#                           Chromium with ChromeDriver for the console test
#   install-deps.sh fuzz    build, plus clang with libFuzzer
#   install-deps.sh bench   build, plus wrk, those servers and pgBackRest
#   install-deps.sh format  clang-format
set -eu
build="build-essential cmake pkg-config git libsqlite3-dev libmicrohttpd-dev libjansson-dev
libsodium-dev libcurl4-openssl-dev libssl-dev libpq-dev libhiredis-dev libstemmer-dev libmongoc-dev"
servers="postgresql redis-server"
case "${1:-build}" in
build) pkgs="$build" ;;
test) pkgs="$build libcmocka-dev $servers pgbackrest clang libclang-rt-14-dev chromium chromium-driver" ;;
fuzz) pkgs="$build clang libclang-rt-14-dev" ;;
bench) pkgs="$build $servers pgbackrest wrk" ;;
format) pkgs="clang-format" ;;
*)
    echo "usage: install-deps.sh build|test|fuzz|bench|format" >&2
    exit 2
    ;;
esac
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
