#!/usr/bin/env bash
# A long run of the crash test (tests/cli/crash_test.cc): SIGKILL at random moments of add,
# commit, checkout and gc, then every committed version checked out byte for byte. The test
# suite runs 6 rounds; this runs ROUNDS (default 40) rounds of 4 killed commands each.
#   bench/crash_soak.sh [ROUNDS]     (after ./setup.sh; uses build/tests/cli_tests)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VREPO_CRASH_ROUNDS=${1:-40} build/tests/cli_tests \
  -tc='cli: SIGKILL at any moment of add, commit, checkout or gc loses nothing' -s |
  grep -E 'crash loop|test cases|assertions'
