#!/usr/bin/env bash
# The arrows that must never exist (docs/architecture.md), checked on the sources' #include
# lines and calls: a layer including a layer above it, RocksDB outside src/store, libgit2
# outside src/history and src/repo, torch outside the training stage, and library code that
# prints. Each violation is named by file and line. Usage: layers_check.sh SOURCE_DIR
set -euo pipefail
cd "$1"
layers=(util store history repo worktree dataset runs remote train web cli)
rank() {
  local i
  for i in "${!layers[@]}"; do
    if [[ ${layers[$i]} == "$1" ]]; then echo "$i"; fi
  done
}
bad=0
report() { echo "$1" >&2; bad=1; }

for layer in "${layers[@]}"; do
  r=$(rank "$layer")
  while IFS=: read -r file line text; do
    target=$(sed -n 's/.*#include "vrepo\/\([a-z]*\)\/.*/\1/p' <<<"$text")
    [[ -n "$target" ]] || continue
    t=$(rank "$target")
    # remote and train are peers: neither includes the other; web sits above remote but not
    # above train (vrepo serve, which links no libtorch, serves its pages).
    if ((t > r)) || { [[ $layer == train && $target == remote ]]; } ||
      { [[ $layer == web && $target == train ]]; }; then
      report "$file:$line: $layer includes $target, a layer above it"
    fi
  done < <(grep -rn '#include "vrepo/' "src/$layer" "include/vrepo/$layer" 2>/dev/null || true)
done
while IFS= read -r hit; do report "$hit: RocksDB outside src/store"; done \
  < <(grep -rn '#include <rocksdb/' src include | grep -v '^src/store/' || true)
while IFS= read -r hit; do report "$hit: libgit2 outside src/history and src/repo"; done \
  < <(grep -rn '#include <git2' src include | grep -v '^src/history/\|^src/repo/' || true)
while IFS= read -r hit; do report "$hit: torch outside the training stage"; done \
  < <(grep -rnE '#include <(torch|ATen|c10)/' src include |
    grep -v '^src/train/\|^src/cli/train/\|^include/vrepo/train/' || true)
while IFS= read -r hit; do report "$hit: library code prints (report through a Reporter)"; done \
  < <(grep -rnE '\b(std::)?(printf|fprintf|puts|fputs)\(|std::(cout|cerr|clog)\b|write\((1|2|STD(OUT|ERR)_FILENO),' src |
    grep -v '^src/cli/' | grep -v 'snprintf' || true)
if ((bad)); then exit 1; fi
echo "no layer includes one above it; engines and printing stay in their layers"
