#!/usr/bin/env bash
# Fails when a C++ file in the repository is not as .clang-format writes it, naming the files.
# Usage: format_check.sh SOURCE_DIR
set -euo pipefail
cd "$1"
mapfile -t files < <(git ls-files '*.cc' '*.h' | grep -v '^tests/fuzz/corpus/')
bad=()
for f in "${files[@]}"; do
  [[ -f "$f" ]] || continue
  if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then bad+=("$f"); fi
done
if ((${#bad[@]})); then
  echo "not formatted (run clang-format -i on them): ${bad[*]}" >&2
  exit 1
fi
echo "${#files[@]} files formatted"
