#!/usr/bin/env bash
# Fails when a C++ file in the repository is not as .clang-format writes it, naming the files.
# Usage: format_check.sh SOURCE_DIR
set -euo pipefail
cd "$1"
mapfile -t files < <(git ls-files '*.cc' '*.h' | grep -v '^tests/fuzz/corpus/')
# One clang-format per core over many files: starting one per file was most of the time.
if ! out=$(printf '%s\n' "${files[@]}" | xargs -P "$(nproc)" -n 40 clang-format --dry-run --Werror 2>&1); then
  echo "not formatted (run clang-format -i on them):" >&2
  grep -o '^[^:]*\.\(cc\|h\):' <<<"$out" | sort -u | tr -d ':' >&2
  exit 1
fi
echo "${#files[@]} files formatted"
