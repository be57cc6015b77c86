#!/usr/bin/env bash
# The README's two commands in both orders, each in a scratch clone of this checkout's HEAD
# (under build-readme/, so a compiler cache based at the checkout serves the clones too):
#   a: the quickstart on a fresh clone, then the tests;
#   b: the tests on a fresh clone, the quickstart after them, and the tests again.
# Each test run must end with ctest's summary and the count check of scripts/test.sh; each
# quickstart must leave its samples. The quickstart trains one epoch here (its extra
# options go to dgm train): what is checked is that the commands work in any order.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
scratch="$repo/build-readme"
rm -rf "$scratch"
mkdir -p "$scratch"
fail() { echo "check-readme-commands: $*" >&2; exit 1; }

quickstart() { # CLONE N
  local log="$scratch/$1-$2-quickstart.log"
  (cd "$scratch/$1" && bash scripts/quickstart.sh --epochs 1) >"$log" 2>&1 ||
    { tail -n 20 "$log" >&2; fail "$1: quickstart (step $2) failed; log $log"; }
  [ -s "$scratch/$1/runs/vae-fashion-mnist/samples.png" ] || fail "$1: quickstart (step $2) left no samples.png"
  echo "check-readme-commands: $1 step $2: quickstart ok ($(grep -m1 '^trained' "$log"))"
}
tests() { # CLONE N
  local log="$scratch/$1-$2-test.log"
  (cd "$scratch/$1" && bash scripts/test.sh) >"$log" 2>&1 ||
    { tail -n 20 "$log" >&2; fail "$1: test.sh (step $2) failed; log $log"; }
  grep -q 'tests passed, 0 tests failed out of' "$log" || fail "$1: test.sh (step $2) printed no ctest summary"
  echo "check-readme-commands: $1 step $2: $(grep -m1 '^check-test-count:' "$log")"
}

for c in a b; do git clone -q "$repo" "$scratch/$c"; done
quickstart a 1
tests a 2
tests b 1
quickstart b 2
tests b 3
rm -rf "$scratch"
echo "check-readme-commands: both orders passed"
