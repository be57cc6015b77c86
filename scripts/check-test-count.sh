#!/usr/bin/env bash
# Fails unless the ctest run logged in LOG ran at least as many tests as the test binary
# in BUILD_DIR defines (its --gtest_list_tests), so a suite that silently lost tests (a
# stale cache with the tests off, a discovery that found nothing) cannot pass.
#   scripts/check-test-count.sh BUILD_DIR LOG
set -euo pipefail
dir=$1 log=$2
bin="$dir/tests/dgm_tests"
[ -x "$bin" ] || { echo "check-test-count: $bin was not built" >&2; exit 1; }
defined=$("$bin" --gtest_list_tests | grep -c '^  ')
ran=$(sed -n 's/.*tests passed, [0-9]* tests failed out of \([0-9]*\).*/\1/p' "$log" | tail -n 1)
if [ -z "$ran" ] || [ "$ran" -lt "$defined" ]; then
  echo "check-test-count: ctest ran ${ran:-no} tests; the test binary defines $defined" >&2
  exit 1
fi
echo "check-test-count: ctest ran $ran tests ($defined GoogleTest cases defined in $bin)"
