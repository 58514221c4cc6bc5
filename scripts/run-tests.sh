#!/usr/bin/env bash
# Runs the whole ctest suite of one build folder against private PostgreSQL
# and Redis servers started for this run and stopped afterwards, whatever
# happens. With RG_REPORT_SKIPS=1 it then prints which adapter suites were
# skipped and why (after ctest's summary, so not on the last run, whose
# summary line CI reads).
#   run-tests.sh BUILD_DIR [ctest arguments…]
set -uo pipefail
build=${1:?usage: run-tests.sh BUILD_DIR}
shift
here=$(cd "$(dirname "$0")" && pwd)
servers=$(mktemp -d /tmp/rg-test-servers.XXXXXX)
trap 'bash "$here/test-servers.sh" stop "$servers" >/dev/null 2>&1' EXIT
if bash "$here/test-servers.sh" start "$servers"; then
    set -a
    # shellcheck disable=SC1091
    . "$servers/env"
    set +a
else
    echo "SKIPPED server adapters: the private PostgreSQL/Redis could not start" >&2
fi
cd "$build" || exit 1
rm -f Testing/Temporary/LastTest.log
ctest --output-on-failure -j"$(nproc 2>/dev/null || echo 2)" "$@"
rc=$?
if [ "${RG_REPORT_SKIPS:-0}" = 1 ]; then
    grep -h '^SKIPPED ' Testing/Temporary/LastTest.log 2>/dev/null | sort -u
fi
exit $rc
