# Shared by the example scripts (source it after `set -euo pipefail`): finds the binaries,
# prepares the run folder and defines `vrepo` and `run`. VREPO_BIN and VREPO_EXPORT_BIN
# override the binaries' paths. Sets root, vrepo_bin and export_bin (absolute paths).

example=$(basename "$0")
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
vrepo_bin=${VREPO_BIN:-$root/build/vrepo}
export_bin=${VREPO_EXPORT_BIN:-$root/build/examples/vrepo-fmnist-export}
for bin in "$vrepo_bin" "$export_bin"; do
  [[ -x "$bin" ]] || { echo "$example: $bin is missing; run ./setup.sh first" >&2; exit 1; }
done
# Absolute, since the examples change folders.
vrepo_bin=$(realpath "$vrepo_bin")
export_bin=$(realpath "$export_bin")

vrepo() { "$vrepo_bin" "$@"; }

# Shows a command the way a user would type it, then runs it.
run() {
  local shown=() a
  for a in "$@"; do
    if [[ "$a" == *[[:space:]]* ]]; then shown+=("\"$a\""); else shown+=("$a"); fi
  done
  printf '\n$ %s\n' "${shown[*]}"
  "$@"
}

# fresh_run_folder DIR MARKER: empties DIR for a new run and prints its absolute path. A
# non-empty DIR without MARKER (what an earlier run of this example leaves) is refused: it may
# hold something else, and is never wiped.
fresh_run_folder() {
  local dir=$1 marker=$2
  if [[ -e "$dir" && -n "$(ls -A "$dir")" && ! -e "$dir/$marker" ]]; then
    echo "$example: $dir exists and is not an earlier run; pick another folder" >&2
    exit 1
  fi
  rm -rf "$dir"
  mkdir -p "$dir"
  (cd "$dir" && pwd)
}
