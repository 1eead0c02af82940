#!/usr/bin/env bash
# Runs clang-tidy (.clang-tidy) on the C++ sources that changed: those differing from the
# merge base with origin/main when that is behind HEAD, else those the last commit touched,
# plus uncommitted edits. Any finding fails. The training stage (src/train, src/cli/train) is
# left out: clang 14 cannot parse all of Debian's libtorch 1.13 headers (ivalue_inl.h).
# Usage: tidy_changed.sh SOURCE_DIR BUILD_DIR
set -euo pipefail
src=$1 build=$2
cd "$src"
base=HEAD~1
if git rev-parse -q --verify origin/main >/dev/null; then
  mb=$(git merge-base HEAD origin/main)
  [[ "$mb" != "$(git rev-parse HEAD)" ]] && base=$mb
fi
git rev-parse -q --verify "$base" >/dev/null || { echo "no base commit: nothing to check"; exit 0; }
mapfile -t changed < <({ git diff --name-only "$base" -- 'src/*.cc'; git diff --name-only -- 'src/*.cc'; } | sort -u)
# A unity build (the default) lists only its batch files; each source a batch includes gets
# the batch's own command, so that every source is checked on its own.
db=$(mktemp -d)
trap 'rm -rf "$db"' EXIT
python3 - "$build/compile_commands.json" "$db/compile_commands.json" <<'PY'
import json, re, sys
out = []
for e in json.load(open(sys.argv[1])):
    if "/Unity/unity_" not in e["file"]:
        out.append(e)
        continue
    for src in re.findall(r'^#include "([^"]+)"', open(e["file"]).read(), re.M):
        out.append(dict(e, file=src, command=e["command"].replace(e["file"], src)))
json.dump(out, open(sys.argv[2], "w"))
PY
files=()
for f in "${changed[@]}"; do
  [[ "$f" == src/train/* || "$f" == src/cli/train/* ]] && continue
  [[ -f "$f" ]] && grep -q "\"file\": \"$src/$f\"" "$db/compile_commands.json" && files+=("$f")
done
if ((${#files[@]} == 0)); then echo "no changed sources to check"; exit 0; fi
echo "clang-tidy on ${#files[@]} changed file(s): ${files[*]}"
printf '%s\n' "${files[@]}" | xargs -P "$(nproc)" -n 1 clang-tidy -p "$db" --quiet --extra-arg=-Wno-unknown-warning-option
