#!/usr/bin/env bash
# Runs one libFuzzer target for a number of seconds from its seed corpus; the
# inputs it finds go to a scratch folder that is removed afterwards, so the
# tree's corpus stays as committed. A crash leaves its input in
# $RG_FUZZ_ARTIFACTS (default: the build folder's fuzz-artifacts) and fails.
#   fuzz.sh TARGET SEED_CORPUS SECONDS
set -uo pipefail
target=${1:?usage: fuzz.sh TARGET SEED_CORPUS SECONDS}
seeds=${2:?}
secs=${3:?}
artifacts=${RG_FUZZ_ARTIFACTS:-$(dirname "$target")/fuzz-artifacts}
mkdir -p "$artifacts"
scratch=$(mktemp -d /tmp/rg-fuzz.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "$target" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 -max_len=4096 \
    -print_final_stats=1 -artifact_prefix="$artifacts/$(basename "$target")-" \
    "$scratch" "$seeds" 2>"$scratch/log"
rc=$?
grep -E '^stat::(number_of_executed_units|peak_rss_mb)|^#[0-9]+.*DONE|ERROR|SUMMARY' "$scratch/log" |
    sed "s|^|$(basename "$target"): |"
[ $rc -eq 0 ] || tail -40 "$scratch/log"
exit $rc
