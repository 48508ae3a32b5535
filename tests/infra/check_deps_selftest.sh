#!/usr/bin/env bash
# Proves scripts/check_deps catches what it should and ignores what it may: each case builds a
# tiny tree in a temporary directory and checks the script's verdict and the file:line it names.
set -euo pipefail

check_deps="$(cd "$(dirname "$0")/../.." && pwd)/scripts/check_deps"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
failures=0

# expect VERDICT(pass|fail) PATH CONTENT [EXPECTED_OUTPUT]
expect() {
  local verdict="$1" path="$2" content="$3" want="${4:-}"
  rm -rf "${tmp:?}/tree"
  mkdir -p "$tmp/tree/src/core" "$tmp/tree/include/skiff"
  printf '#pragma once\n' >"$tmp/tree/include/skiff/types.h"
  mkdir -p "$(dirname "$tmp/tree/$path")"
  printf '%s\n' "$content" >"$tmp/tree/$path"
  local out rc=0
  out="$("$check_deps" "$tmp/tree" 2>&1)" || rc=$?
  local ok=1
  if [[ "$verdict" == pass && $rc -ne 0 ]] || [[ "$verdict" == fail && $rc -ne 1 ]]; then
    ok=0
  fi
  if [[ -n "$want" && "$out" != *"$want"* ]]; then
    ok=0
  fi
  if ((ok)); then
    echo "ok    ${verdict} ${path}: ${content//$'\n'/ | }"
  else
    echo "FAIL  expected ${verdict} (${want}) for ${path}: ${content//$'\n'/ | }"
    echo "      got exit ${rc}: ${out}"
    failures=$((failures + 1))
  fi
}

expect pass src/core/a.cc '#include <vector>
#include "skiff/types.h"'
expect fail src/core/a.cc '#include <vector>
#include <thread>' 'src/core/a.cc:2:'
expect fail src/core/sub/b.h '#include <mutex>' 'src/core/sub/b.h:1:'
expect fail src/core/a.cc '  #  include <sys/socket.h>' 'src/core/a.cc:1:'
expect fail src/core/a.cc '#include <asio.hpp>' 'src/core/a.cc:1:'
expect fail src/core/a.cc '#include "google/protobuf/message.h"' 'src/core/a.cc:1:'
expect fail src/core/a.cc '#include <lmdb.h>' 'src/core/a.cc:1:'
expect fail src/core/a.cc '#include <fmt/format.h>' 'src/core/a.cc:1:'
expect fail include/skiff/x.h '#include <chrono>' 'include/skiff/x.h:1:'
expect fail include/skiff/x.h '#include <random>' 'include/skiff/x.h:1:'
expect fail src/core/a.cc 'int f() {
  return std::chrono::steady_clock::now().time_since_epoch().count();
}' 'src/core/a.cc:2:'
expect fail src/core/a.cc 'std::random_device rd;' 'src/core/a.cc:1:'
expect fail src/core/a.cc 'int x = std::rand();' 'src/core/a.cc:1:'
expect fail src/core/a.cc 'void g() { srand(1); }' 'src/core/a.cc:1:'
expect fail src/core/a.cc 'long t = time(nullptr);' 'src/core/a.cc:1:'
# Allowed: look-alikes, comments explaining an absence, tests, other targets' headers.
expect pass src/core/a.cc 'int election_time(int x);  // not a clock
#include <string_view>
#include <cstdio>'
expect pass src/core/a.cc '// We never call time() or use std::random_device: see rng.h.'
expect pass src/core/a_test.cc '#include <thread>
#include <gtest/gtest.h>'
expect pass include/skiff/node/node.h '#include <thread>'

if ((failures > 0)); then
  echo "check_deps_selftest: ${failures} case(s) failed"
  exit 1
fi
echo "check_deps_selftest: all cases passed"
