#!/bin/sh
# Tests the alert rules of ops/prometheus with promtool: `promtool check
# rules` and `promtool test rules` (the expected alerts of rules_test.yml).
#   check-rules.sh [TOOLS_DIR]
# promtool comes from Debian's prometheus package. When it is not on PATH,
# it is taken out of the package (apt-get download, dpkg-deb -x) into
# TOOLS_DIR (default build/tools) rather than installed: installing the
# package would also install and start a Prometheus server, which nothing
# here needs.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
tools=${1:-$root/build/tools}
mkdir -p "$tools"
tools=$(cd "$tools" && pwd) # the checks run from ops/prometheus
if command -v promtool >/dev/null 2>&1; then
    promtool=promtool
elif [ -x "$tools/promtool" ]; then
    promtool=$tools/promtool
else
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    if ! (cd "$tmp" && apt-get download prometheus >/dev/null 2>&1); then
        echo "SKIPPED alert rules: promtool is not installed and Debian's prometheus package could not be downloaded"
        exit 0
    fi
    dpkg-deb -x "$tmp"/prometheus_*.deb "$tmp/x"
    cp "$tmp/x/usr/bin/promtool" "$tools/promtool"
    promtool=$tools/promtool
fi
cd "$root/ops/prometheus"
"$promtool" check rules rules.yml
"$promtool" test rules rules_test.yml
